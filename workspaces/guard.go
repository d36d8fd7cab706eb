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
	ln  net.Listener
	srv *http.Server
	tr  *http.Transport

	lookup   func(ctx context.Context, host string) ([]netip.Addr, error)
	isPublic func(netip.Addr) bool
}

var errPrivateAddr = errors.New("not a public address")

func startGuard(lookup func(context.Context, string) ([]netip.Addr, error), isPublic func(netip.Addr) bool) (*guard, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("git proxy: %w", err)
	}
	g := &guard{ln: ln, lookup: lookup, isPublic: isPublic}
	g.tr = &http.Transport{DialContext: g.dial, ForceAttemptHTTP2: false, DisableCompression: true,
		ResponseHeaderTimeout: time.Minute, IdleConnTimeout: 30 * time.Second}
	g.srv = &http.Server{Handler: g, ReadHeaderTimeout: 10 * time.Second}
	go g.srv.Serve(ln)
	return g, nil
}

func (g *guard) close() {
	g.srv.Close()
	g.tr.CloseIdleConnections()
}

// proxy is the go-git option that sends a remote's requests through g.
func (g *guard) proxy() transport.ProxyOptions {
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
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		io.Copy(dst, buf) // what the client sent after its CONNECT, then the rest
		dst.(*net.TCPConn).CloseWrite()
	}()
	go func() {
		defer wg.Done()
		io.Copy(src, dst)
		src.(*net.TCPConn).CloseWrite()
	}()
	wg.Wait()
	src.Close()
	dst.Close()
}

// proxyFor returns the go-git proxy option for a remote: the guard for a
// checked http(s) remote, none otherwise (ssh remotes; private hosts
// allowed; a proxy of the operator's own in the environment, which then
// connects for us).
func (m *Manager) proxyFor(rem remote) (transport.ProxyOptions, error) {
	if rem.ssh || !rem.target.checked {
		return transport.ProxyOptions{}, nil
	}
	u, err := url.Parse(rem.clean)
	if err != nil {
		return transport.ProxyOptions{}, err
	}
	if p, err := http.ProxyFromEnvironment(&http.Request{URL: u}); err == nil && p != nil {
		return transport.ProxyOptions{}, nil
	}
	m.guardOnce.Do(func() { m.guard, m.guardErr = startGuard(m.resolver()) })
	if m.guardErr != nil {
		return transport.ProxyOptions{}, m.guardErr
	}
	return m.guard.proxy(), nil
}
