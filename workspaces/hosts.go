package workspaces

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
)

// target is where a remote's connections go: the host as written and the
// addresses it resolved to when checked, which git is then pinned to.
type target struct {
	host    string // without brackets
	port    string // "" for ssh's default
	addrs   []netip.Addr
	checked bool // the addresses were checked: git must not leave them
}

// remoteHost names the host and port of a validated remote.
func remoteHost(rem remote) (host, port string) {
	if m := scpLike.FindStringSubmatch(rem.clean); m != nil && !strings.Contains(rem.clean, "://") {
		return strings.Trim(m[2], "[]"), ""
	}
	u, err := url.Parse(rem.clean)
	if err != nil {
		return "", ""
	}
	port = u.Port()
	if port == "" {
		switch u.Scheme {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	return u.Hostname(), port
}

// checkHost resolves rem's host and refuses it when any of its addresses
// is not a public one, unless Config.AllowPrivateHosts. Every address must
// pass, since the client may try any of them.
func (m *Manager) checkHost(ctx context.Context, rem remote) (target, error) {
	host, port := remoteHost(rem)
	t := target{host: host, port: port}
	if host == "" {
		return t, fmt.Errorf("%w: %s has no host", ErrInvalidURL, rem.clean)
	}
	if m.cfg.AllowPrivateHosts {
		return t, nil
	}
	lookup, isPublic := m.resolver()
	if a, err := netip.ParseAddr(host); err == nil {
		t.addrs = []netip.Addr{a}
	} else if t.addrs, err = lookup(ctx, host); err != nil || len(t.addrs) == 0 {
		return t, fmt.Errorf("%w: cannot resolve %s", ErrInvalidURL, host)
	}
	t.checked = true
	for _, a := range t.addrs {
		if !isPublic(a) {
			return t, fmt.Errorf("%w: %s is a loopback, private, link-local or unspecified address; "+
				"the server's operator can allow such hosts with workspaces.allow_private_hosts", ErrInvalidURL, host)
		}
	}
	return t, nil
}

// resolver returns how host names are resolved and which addresses count
// as public: the system's resolver and public, unless a test says otherwise.
func (m *Manager) resolver() (lookup func(context.Context, string) ([]netip.Addr, error), isPublic func(netip.Addr) bool) {
	lookup, isPublic = m.lookupHost, m.isPublic
	if lookup == nil {
		var r net.Resolver
		lookup = func(ctx context.Context, host string) ([]netip.Addr, error) { return r.LookupNetIP(ctx, "ip", host) }
	}
	if isPublic == nil {
		isPublic = public
	}
	return lookup, isPublic
}

// public reports whether a is an address on the public internet, as far
// as its range tells: not loopback, private (RFC 1918, fc00::/7), shared
// (100.64/10), link-local, multicast or unspecified, nor "this network".
func public(a netip.Addr) bool {
	a = a.Unmap()
	switch {
	case a.IsLoopback(), a.IsPrivate(), a.IsUnspecified(), a.IsLinkLocalUnicast(),
		a.IsLinkLocalMulticast(), a.IsInterfaceLocalMulticast(), a.IsMulticast():
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),     // "this network"
	netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),  // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"), // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),   // reserved, broadcast
	netip.MustParsePrefix("64:ff9b::/96"),  // NAT64: may map onto any IPv4 address
	netip.MustParsePrefix("2002::/16"),     // 6to4: embeds an IPv4 address
}

// curlResolve is git's http.curloptResolve entry that pins the host to the
// addresses checked, so a DNS answer that changes between the check and
// git's connection (rebinding) is never used.
func (t target) curlResolve() string {
	if len(t.addrs) == 0 {
		return ""
	}
	if _, err := netip.ParseAddr(t.host); err == nil {
		return "" // an address literal resolves to itself
	}
	list := make([]string, len(t.addrs))
	for i, a := range t.addrs {
		list[i] = a.Unmap().String()
		if a.Unmap().Is6() {
			list[i] = "[" + list[i] + "]"
		}
	}
	return t.host + ":" + t.port + ":" + strings.Join(list, ",")
}

// remoteSummary replaces a go-git error that carries the remote's response
// body (its 401, 403 and 404 errors do) with the kind of failure alone:
// the body is whatever the remote serves and is never relayed to users.
func remoteSummary(err error) error {
	for _, kind := range []error{transport.ErrAuthenticationRequired, transport.ErrAuthorizationFailed, transport.ErrRepositoryNotFound} {
		if errors.Is(err, kind) {
			return kind
		}
	}
	return err
}
