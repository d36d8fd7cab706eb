package webbridge

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

func (e *testEnv) proxied(method, path string, hdr map[string]string) *http.Response {
	e.t.Helper()
	var body *strings.Reader
	if method == "POST" {
		body = strings.NewReader(`{"code":"guess"}`)
	} else {
		body = strings.NewReader("")
	}
	req, _ := http.NewRequest(method, e.ts.URL+path, body)
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	return res
}

// The login limiter counts the client's address: X-Forwarded-For is
// believed from a trusted proxy only, and then only its right-most
// untrusted entry (what the proxy saw), not what a client wrote left of it.
func TestTrustedProxyClientAddress(t *testing.T) {
	e := newEnv(t, envOptions{loginsPerMinute: 2})
	exchange := func(xff string) int {
		return e.proxied("POST", "/api/auth/exchange", map[string]string{"X-Forwarded-For": xff}).StatusCode
	}
	// No trusted proxy: the header is a client's claim, everyone is 127.0.0.1.
	exchange("203.0.113.1")
	exchange("203.0.113.2")
	if s := exchange("203.0.113.3"); s != http.StatusTooManyRequests {
		t.Fatalf("untrusted X-Forwarded-For escaped the limit: %d", s)
	}

	e2 := newEnv(t, envOptions{loginsPerMinute: 2})
	e2.srv.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	exchange = func(xff string) int {
		return e2.proxied("POST", "/api/auth/exchange", map[string]string{"X-Forwarded-For": xff}).StatusCode
	}
	// A client that writes its own X-Forwarded-For in front of the
	// proxy's entry is still counted by the proxy's entry.
	for i, spoof := range []string{"198.51.100.1, 203.0.113.1", "198.51.100.2, 203.0.113.1"} {
		if s := exchange(spoof); s == http.StatusTooManyRequests {
			t.Fatalf("attempt %d limited early", i)
		}
	}
	if s := exchange("198.51.100.3, 203.0.113.1"); s != http.StatusTooManyRequests {
		t.Fatalf("third attempt from 203.0.113.1: %d, want 429", s)
	}
	// Another client behind the same proxy has its own budget.
	if s := exchange("203.0.113.2"); s == http.StatusTooManyRequests {
		t.Fatal("a second client behind the proxy shares the first one's limit")
	}
}

// Behind a TLS-terminating proxy the browser's Origin is https://host; the
// Origin check and HSTS follow X-Forwarded-Proto only from a trusted proxy,
// and X-Forwarded-Host still has to pass the Host check.
func TestTrustedProxyOriginHostHSTS(t *testing.T) {
	e := newEnv(t, envOptions{})
	host := strings.TrimPrefix(e.ts.URL, "http://")
	poll := "/socket.io/?EIO=4&transport=polling"
	fromTLS := map[string]string{"X-Forwarded-Proto": "https", "Origin": "https://" + host}

	if s := e.proxied("GET", poll, fromTLS).StatusCode; s != http.StatusForbidden {
		t.Fatalf("untrusted peer's X-Forwarded-Proto believed: %d", s)
	}
	if h := e.proxied("GET", "/api/health", fromTLS).Header.Get("Strict-Transport-Security"); h != "" {
		t.Fatalf("HSTS over plain http from an untrusted peer: %q", h)
	}

	e.srv.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	if s := e.proxied("GET", poll, fromTLS).StatusCode; s != http.StatusOK {
		t.Fatalf("https origin behind a trusted proxy: %d, want 200", s)
	}
	if s := e.proxied("GET", poll, map[string]string{"X-Forwarded-Proto": "https", "Origin": "http://" + host}).StatusCode; s != http.StatusForbidden {
		t.Fatalf("an http page driving the https site: %d, want 403", s)
	}
	if h := e.proxied("GET", "/api/health", fromTLS).Header.Get("Strict-Transport-Security"); !strings.Contains(h, "max-age=") {
		t.Fatalf("no HSTS behind a TLS proxy: %q", h)
	}
	if h := e.proxied("GET", "/api/health", nil).Header.Get("Strict-Transport-Security"); h != "" {
		t.Fatalf("HSTS on plain http: %q", h)
	}

	// The forwarded host is the one checked (DNS rebinding through the proxy).
	if s := e.proxied("GET", "/api/health", map[string]string{"X-Forwarded-Host": "evil.example"}).StatusCode; s != http.StatusMisdirectedRequest {
		t.Fatalf("X-Forwarded-Host evil.example: %d, want 421", s)
	}
	fwd := map[string]string{"X-Forwarded-Host": "localhost:8443", "X-Forwarded-Proto": "https", "Origin": "https://localhost:8443", "Host": "upstream"}
	if s := e.proxied("GET", poll, fwd).StatusCode; s != http.StatusOK {
		t.Fatalf("the browser's host through the proxy: %d, want 200", s)
	}
}
