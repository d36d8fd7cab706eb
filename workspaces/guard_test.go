package workspaces

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"testing"
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
		proxy, _ := url.Parse(g.proxy().URL)
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
