package webbridge

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

type schemeKey struct{}

// requestScheme is "https" when the request came over TLS, to us or (as a
// trusted proxy says) to the proxy in front of us.
func requestScheme(r *http.Request) string {
	if s, ok := r.Context().Value(schemeKey{}).(string); ok {
		return s
	}
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// fromProxies believes X-Forwarded-For, -Proto and -Host only when the peer
// is one of TrustedProxies. The request then carries the client's address
// (for rate limits and logs), the scheme and the host the browser used (for
// the Host and Origin checks, cookies and redirects). From anyone else the
// headers are ignored, so a client cannot pick the address it is limited by.
func (s *Server) fromProxies(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer, ok := s.trusted(r.RemoteAddr)
		if !ok {
			h.ServeHTTP(w, r)
			return
		}
		r2 := r.Clone(r.Context())
		if client := s.forwardedFor(r.Header.Values("X-Forwarded-For")); client.IsValid() && client != peer {
			r2.RemoteAddr = net.JoinHostPort(client.String(), "0")
		}
		if proto := firstValue(r.Header.Get("X-Forwarded-Proto")); proto == "https" || proto == "http" {
			r2 = r2.WithContext(context.WithValue(r2.Context(), schemeKey{}, proto))
		}
		if host := firstValue(r.Header.Get("X-Forwarded-Host")); host != "" {
			r2.Host = host
		}
		h.ServeHTTP(w, r2)
	})
}

func (s *Server) trusted(addr string) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), s.isTrusted(ap.Addr().Unmap())
}

func (s *Server) isTrusted(a netip.Addr) bool {
	for _, p := range s.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// forwardedFor is the client address in X-Forwarded-For: the right-most
// entry not added by a trusted proxy. Entries left of it were written by
// the client and prove nothing.
func (s *Server) forwardedFor(headers []string) netip.Addr {
	var hops []string
	for _, h := range headers {
		hops = append(hops, strings.Split(h, ",")...)
	}
	var last netip.Addr
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.Trim(strings.TrimSpace(hops[i]), "[]"))
		if err != nil {
			return last // garbage: trust nothing further left
		}
		last = a.Unmap()
		if !s.isTrusted(last) {
			return last
		}
	}
	return last
}

func firstValue(v string) string {
	v, _, _ = strings.Cut(v, ",")
	return strings.ToLower(strings.TrimSpace(v))
}
