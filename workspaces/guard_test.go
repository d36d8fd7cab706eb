package workspaces

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"testing"
	"time"
)

// TestGuardTunnelsToPublicOnly drives the guard as go-git does for https
// remotes (CONNECT): through to an allowed address, refused to another.
func TestGuardTunnelsToPublicOnly(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "tls ok") }))
	defer srv.Close()
	for _, allow := range []bool{true, false} {
		g, err := startGuard(func(context.Context, string) ([]netip.Addr, error) {
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
		}, func(netip.Addr) bool { return allow })
		if err != nil {
			t.Fatal(err)
		}
		proxy, _ := url.Parse(g.proxy(false).URL)
		c := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxy), TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
		res, err := c.Get(srv.URL)
		switch {
		case allow && err != nil:
			t.Fatalf("allowed tunnel: %v", err)
		case allow:
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if string(body) != "tls ok" {
				t.Fatalf("through the tunnel: %q", body)
			}
		case err == nil:
			res.Body.Close()
			t.Fatal("a tunnel to a private address was opened")
		}
		g.close()
	}
}

// TestGuardSOCKSToPublicOnly drives the guard as go-git's ssh transport
// does (SOCKS5 CONNECT with a host name): through to an allowed address,
// refused to another.
func TestGuardSOCKSToPublicOnly(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			io.Copy(c, c)
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(echo.Addr().String())
	for _, allow := range []bool{true, false} {
		g, err := startGuard(func(context.Context, string) ([]netip.Addr, error) {
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
		}, func(netip.Addr) bool { return allow })
		if err != nil {
			t.Fatal(err)
		}
		c, err := net.Dial("tcp", g.socks.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		name := "git.example.test"
		p, _ := strconv.Atoi(port)
		req := append([]byte{5, 1, 0, 5, 1, 0, 3, byte(len(name))}, name...)
		c.Write(append(req, byte(p>>8), byte(p)))
		reply := make([]byte, 12)
		_, err = io.ReadFull(c, reply)
		switch {
		case err != nil:
			t.Fatalf("allow=%v: %v", allow, err)
		case allow && reply[3] != 0:
			t.Fatalf("allowed connect refused: %v", reply)
		case !allow && reply[3] == 0:
			t.Fatalf("a connect to a private address was made: %v", reply)
		}
		if allow {
			io.WriteString(c, "ping")
			got := make([]byte, 4)
			if _, err := io.ReadFull(c, got); err != nil || string(got) != "ping" {
				t.Fatalf("through SOCKS: %q %v", got, err)
			}
		}
		c.Close()
		g.close()
	}
}
