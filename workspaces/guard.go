package workspaces

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
)

// guard is an HTTP proxy on 127.0.0.1 that go-git's http(s) connections
// go through while private hosts are not allowed. It connects only to
// public addresses and checks the address it really connects to, so
// neither a redirect (go-git follows a remote's first one) nor a DNS
// answer that changed since checkHost can reach the server's network.
type guard struct {
	ln    net.Listener // HTTP proxy, for http(s) remotes
	socks net.Listener // SOCKS5, for ssh remotes
	srv   *http.Server
	tr    *http.Transport

	lookup   func(ctx context.Context, host string) ([]netip.Addr, error)
	isPublic func(netip.Addr) bool
}

var errPrivateAddr = errors.New("not a public address")

func startGuard(lookup func(context.Context, string) ([]netip.Addr, error), isPublic func(netip.Addr) bool) (*guard, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("git proxy: %w", err)
	}
	socks, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("git proxy: %w", err)
	}
	g := &guard{ln: ln, socks: socks, lookup: lookup, isPublic: isPublic}
	g.tr = &http.Transport{DialContext: g.dial, ForceAttemptHTTP2: false, DisableCompression: true,
		ResponseHeaderTimeout: time.Minute, IdleConnTimeout: 30 * time.Second}
	g.srv = &http.Server{Handler: g, ReadHeaderTimeout: 10 * time.Second}
	go g.srv.Serve(ln)
	go g.serveSOCKS()
	return g, nil
}

func (g *guard) close() {
	g.srv.Close()
	g.socks.Close()
	g.tr.CloseIdleConnections()
}

// proxy is the go-git option that sends a remote's connections through g.
func (g *guard) proxy(ssh bool) transport.ProxyOptions {
	if ssh {
		return transport.ProxyOptions{URL: "socks5://" + g.socks.Addr().String()}
	}
	return transport.ProxyOptions{URL: "http://" + g.ln.Addr().String()}
}

// dial connects to addr's host at a public address, refused at the
// socket, after connect's own resolution, if it is anything else.
func (g *guard) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else if addrs, err = g.lookup(ctx, host); err != nil {
		return nil, err
	}
	d := net.Dialer{Timeout: 30 * time.Second, Control: func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil || !g.isPublic(ap.Addr()) {
			return fmt.Errorf("%s: %w", host, errPrivateAddr)
		}
		return nil
	}}
	err = fmt.Errorf("%s: no address", host)
	for _, a := range addrs {
		var c net.Conn
		if c, err = d.DialContext(ctx, network, net.JoinHostPort(a.Unmap().String(), port)); err == nil {
			return c, nil
		}
	}
	return nil, err
}

func (g *guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodConnect {
		g.tunnel(w, r)
		return
	}
	if r.URL.Scheme != "http" || r.URL.Host == "" {
		http.Error(w, "not a proxy request", http.StatusBadRequest)
		return
	}
	out := r.Clone(r.Context())
	out.RequestURI = ""
	for _, h := range []string{"Proxy-Connection", "Proxy-Authorization", "Connection", "Keep-Alive", "Te", "Trailer", "Upgrade"} {
		out.Header.Del(h)
	}
	res, err := g.tr.RoundTrip(out)
	if err != nil {
		http.Error(w, "refused or unreachable", http.StatusBadGateway)
		return
	}
	defer res.Body.Close()
	for k, v := range res.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(res.StatusCode)
	io.Copy(w, res.Body)
}

// tunnel serves CONNECT (https remotes): bytes both ways once the checked
// connection is up.
func (g *guard) tunnel(w http.ResponseWriter, r *http.Request) {
	dst, err := g.dial(r.Context(), "tcp", r.Host)
	if err != nil {
		http.Error(w, "refused or unreachable", http.StatusBadGateway)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		dst.Close()
		http.Error(w, "no tunnel", http.StatusInternalServerError)
		return
	}
	src, buf, err := hj.Hijack()
	if err != nil {
		dst.Close()
		return
	}
	io.WriteString(src, "HTTP/1.1 200 Connection established\r\n\r\n")
	// What the client sent after its CONNECT is in buf, then the rest.
	splice(src, buf, dst)
}

// serveSOCKS serves SOCKS5 CONNECT without authentication, all go-git's
// ssh transport asks of a proxy, until the listener closes.
func (g *guard) serveSOCKS() {
	for {
		c, err := g.socks.Accept()
		if err != nil {
			return
		}
		go g.socksConn(c)
	}
}

func (g *guard) socksConn(c net.Conn) {
	c.SetDeadline(time.Now().Add(30 * time.Second))
	dst, err := g.socksConnect(c)
	if err != nil {
		c.Close()
		return
	}
	c.SetDeadline(time.Time{})
	splice(c, c, dst)
}

// socksConnect reads a SOCKS5 greeting and CONNECT request from c, dials the
// destination through the check and answers.
func (g *guard) socksConnect(c net.Conn) (net.Conn, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil || hdr[0] != 5 {
		return nil, errors.New("not SOCKS5")
	}
	methods := make([]byte, hdr[1])
	if _, err := io.ReadFull(c, methods); err != nil {
		return nil, err
	}
	c.Write([]byte{5, 0}) // no authentication
	var req [4]byte
	if _, err := io.ReadFull(c, req[:]); err != nil || req[0] != 5 || req[1] != 1 {
		c.Write([]byte{5, 7, 0, 1, 0, 0, 0, 0, 0, 0}) // command not supported
		return nil, errors.New("not a CONNECT")
	}
	var host string
	switch req[3] {
	case 1, 4: // IPv4, IPv6
		n := net.IPv4len
		if req[3] == 4 {
			n = net.IPv6len
		}
		ip := make([]byte, n)
		if _, err := io.ReadFull(c, ip); err != nil {
			return nil, err
		}
		host = net.IP(ip).String()
	case 3: // a name
		var n [1]byte
		if _, err := io.ReadFull(c, n[:]); err != nil {
			return nil, err
		}
		name := make([]byte, n[0])
		if _, err := io.ReadFull(c, name); err != nil {
			return nil, err
		}
		host = string(name)
	default:
		return nil, errors.New("bad address type")
	}
	var port [2]byte
	if _, err := io.ReadFull(c, port[:]); err != nil {
		return nil, err
	}
	dst, err := g.dial(context.Background(), "tcp", net.JoinHostPort(host, strconv.Itoa(int(port[0])<<8|int(port[1]))))
	if err != nil {
		c.Write([]byte{5, 2, 0, 1, 0, 0, 0, 0, 0, 0}) // not allowed by ruleset
		return nil, err
	}
	c.Write([]byte{5, 0, 0, 1, 0, 0, 0, 0, 0, 0})
	return dst, nil
}

// splice copies from (src, read through in) to dst and back, passing each
// side's end on as a half-close, then closes both.
func splice(src net.Conn, in io.Reader, dst net.Conn) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		io.Copy(dst, in)
		closeWrite(dst)
	}()
	go func() {
		defer wg.Done()
		io.Copy(src, dst)
		closeWrite(src)
	}()
	wg.Wait()
	src.Close()
	dst.Close()
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
}

// proxyFor returns the go-git proxy option for a remote: the guard for a
// checked remote, none otherwise (private hosts allowed; a proxy of the
// operator's own in the environment, which then connects for us).
func (m *Manager) proxyFor(rem remote) (transport.ProxyOptions, error) {
	if !rem.target.checked {
		return transport.ProxyOptions{}, nil
	}
	if !rem.ssh {
		u, err := url.Parse(rem.clean)
		if err != nil {
			return transport.ProxyOptions{}, err
		}
		if p, err := http.ProxyFromEnvironment(&http.Request{URL: u}); err == nil && p != nil {
			return transport.ProxyOptions{}, nil
		}
	} else if os.Getenv("ALL_PROXY") != "" || os.Getenv("all_proxy") != "" {
		return transport.ProxyOptions{}, nil
	}
	m.guardOnce.Do(func() { m.guard, m.guardErr = startGuard(m.resolver()) })
	if m.guardErr != nil {
		return transport.ProxyOptions{}, m.guardErr
	}
	return m.guard.proxy(rem.ssh), nil
}
