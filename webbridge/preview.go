package webbridge

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/codeterm/codeterm/store"
)

// A preview is a port of a workspace served on an origin of its own,
// http://PORT--WORKSPACE--USER.<preview domain>/, so that a page from the
// workspace can neither read codeterm's token nor call its API as the
// user. The page gets there with a one-time ticket (POST /api/previews),
// which the preview host trades for a cookie of its own.

const (
	previewCookie    = "codeterm_preview"
	previewAuthPath  = "/__codeterm/auth"
	previewTicketTTL = time.Minute
	previewTTL       = 12 * time.Hour
	maxPreviewGrants = 10000 // tickets and cookies held, all users together
)

// previewGrant is what a ticket or a cookie stands for: one user's access to
// one port of one workspace on one host.
type previewGrant struct {
	userID, workspaceID string
	port                int
	host                string // the preview host name, lowercase, no port
	expires             time.Time
	// token is the browser token the ticket was asked with: the cookie
	// lives no longer than it (sign-out, revocation, deleted user), checked
	// again when verified is older than the revocation interval.
	token    string
	verified time.Time
	checking bool // a request is checking token again
}

// previewAuth holds the tickets (one use) and the cookies' grants. They
// live in memory: a restart costs a click on "Open".
type previewAuth struct {
	mu      sync.Mutex
	tickets map[string]previewGrant
	cookies map[string]previewGrant
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// put stores g under a fresh token in m, dropping expired entries first.
func (a *previewAuth) put(m *map[string]previewGrant, g previewGrant) (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if *m == nil {
		*m = map[string]previewGrant{}
	}
	now := time.Now()
	for k, v := range *m {
		if now.After(v.expires) {
			delete(*m, k)
		}
	}
	if len(*m) >= maxPreviewGrants {
		return "", false
	}
	tok := randomToken()
	(*m)[tok] = g
	return tok, true
}

func (a *previewAuth) takeTicket(t, host string) (previewGrant, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	g, ok := a.tickets[t]
	delete(a.tickets, t)
	return g, ok && g.host == host && time.Now().Before(g.expires)
}

func (a *previewAuth) cookie(c, host string) (previewGrant, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	g, ok := a.cookies[c]
	return g, ok && g.host == host && time.Now().Before(g.expires)
}

// claimCheck lets one request recheck a cookie's token while the others
// go on with the last answer.
func (a *previewAuth) claimCheck(c string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	g, ok := a.cookies[c]
	if !ok || g.checking {
		return false
	}
	g.checking = true
	a.cookies[c] = g
	return true
}

// verified records the outcome of checking a cookie's token again.
func (a *previewAuth) verified(c string, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if g, found := a.cookies[c]; found && ok {
		g.verified, g.checking = time.Now(), false
		a.cookies[c] = g
	} else {
		delete(a.cookies, c)
	}
}

func (s *Server) previewDomain() string {
	if d := strings.Trim(strings.ToLower(s.PreviewDomain), "."); d != "" {
		return d
	}
	return "localhost"
}

// previewHost returns the request's host name (lowercase, no port) when it
// is a preview host.
func (s *Server) previewHost(r *http.Request) (string, bool) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	label, ok := strings.CutSuffix(host, "."+s.previewDomain())
	return host, ok && isPreviewLabel(label)
}

// isPreviewLabel reports whether label is PORT--WORKSPACE--USER: 1-5
// digits, then two more parts of [a-z0-9_-] after "--".
func isPreviewLabel(label string) bool {
	port, rest, ok := strings.Cut(label, "--")
	if !ok || len(port) == 0 || len(port) > 5 || strings.Trim(port, "0123456789") != "" {
		return false
	}
	ws, user, ok := strings.Cut(rest, "--")
	if !ok || ws == "" || user == "" {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// hostLabel is how a name appears in a preview host: DNS names are
// case-insensitive and split at dots, so a workspace name that is not
// already a lowercase label is replaced by its id.
func hostLabel(name, id string) string {
	if name == strings.ToLower(name) && !strings.Contains(name, ".") && !strings.Contains(name, "--") &&
		!strings.HasSuffix(name, "-") {
		return name
	}
	return strings.ToLower(id)
}

// previews routes preview hosts to the preview handler before anything
// else: they never reach codeterm's API or page, and codeterm's own hosts
// never reach a preview.
func (s *Server) previews(next http.Handler) http.Handler {
	s.previewProxy = s.newPreviewProxy()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if host, ok := s.previewHost(r); ok {
			s.servePreview(w, r, host)
			return
		}
		next.ServeHTTP(w, r)
	})
}

type previewTargetKey struct{}

// bufferPool lends the proxy its copy buffers instead of a new 32 KiB
// for every response.
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }

func (s *Server) newPreviewProxy() *httputil.ReverseProxy {
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(&url.URL{Scheme: "http", Host: pr.In.Context().Value(previewTargetKey{}).(string)})
			// The app sees the host the browser asked for, as behind any
			// reverse proxy, so its absolute links and host checks work.
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
			// codeterm's cookie is for codeterm: the app never sees it.
			pr.Out.Header.Del("Cookie")
			var keep []string
			for _, c := range pr.In.Cookies() {
				if c.Name != previewCookie {
					keep = append(keep, c.Name+"="+c.Value)
				}
			}
			if len(keep) > 0 {
				pr.Out.Header.Set("Cookie", strings.Join(keep, "; "))
			}
		},
		BufferPool: &bufferPool{},
		Transport: &http.Transport{
			DialContext:         dialer.DialContext,
			DisableCompression:  true, // pass the browser's Accept-Encoding through, and the body as is
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if !errors.Is(err, context.Canceled) {
				s.Log.Info("preview", "host", r.Host, "err", err)
			}
			previewPage(w, http.StatusBadGateway, "The workspace's server did not answer",
				"Nothing answered on this port; is the server still running?", "")
		},
	}
}

func (s *Server) servePreview(w http.ResponseWriter, r *http.Request, host string) {
	if r.URL.Path == previewAuthPath {
		g, ok := s.previewAuth.takeTicket(r.URL.Query().Get("ticket"), host)
		if !ok {
			s.previewLogin(w, r)
			return
		}
		g.expires, g.verified = time.Now().Add(previewTTL), time.Now()
		c, ok := s.previewAuth.put(&s.previewAuth.cookies, g)
		if !ok {
			previewPage(w, http.StatusServiceUnavailable, "Too many previews", "Try again later.", "")
			return
		}
		http.SetCookie(w, &http.Cookie{Name: previewCookie, Value: c, Path: "/", HttpOnly: true,
			Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode, MaxAge: int(previewTTL.Seconds())})
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	// Any of the request's cookies of that name may be ours: a page on a
	// sibling host can set one for the whole preview domain, which must
	// not hide the real one (its own grant is for its own host only).
	var g previewGrant
	ok := false
	for _, ck := range r.CookiesNamed(previewCookie) {
		if g, ok = s.previewAuth.cookie(ck.Value, host); ok {
			if time.Since(g.verified) > s.Socket.RevocationInterval && s.previewAuth.claimCheck(ck.Value) {
				claims, _, err := s.Auth.Verify(r.Context(), g.token)
				ok = err == nil && claims.Subject == g.userID
				s.previewAuth.verified(ck.Value, ok)
			}
			break
		}
	}
	if !ok {
		s.previewLogin(w, r)
		return
	}
	p, ok := s.ports.Lookup(g.userID, g.workspaceID, g.port)
	if !ok {
		previewPage(w, http.StatusNotFound, "No such port", "Nothing in this workspace listens on port "+strconv.Itoa(g.port)+".", "")
		return
	}
	addr, _ := p.Loopback()
	s.previewProxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), previewTargetKey{}, addr)))
}

// previewLogin answers a request without a valid cookie, the same way
// whether or not the preview exists.
func (s *Server) previewLogin(w http.ResponseWriter, r *http.Request) {
	previewPage(w, http.StatusUnauthorized, "Sign in to see this preview",
		"Open it from the Ports list of your workspace in codeterm.", s.codetermURL(r))
}

func previewPage(w http.ResponseWriter, status int, title, text, link string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	body := "<!doctype html><meta charset=utf-8><title>" + html.EscapeString(title) + "</title><h1>" +
		html.EscapeString(title) + "</h1><p>" + html.EscapeString(text) + "</p>"
	if link != "" {
		body += `<p><a href="` + html.EscapeString(link) + `">Open codeterm</a></p>`
	}
	fmt.Fprint(w, body)
}

// codetermURL is where browsers reach codeterm itself: PublicURL, else the
// request's host with the preview label taken off.
func (s *Server) codetermURL(r *http.Request) string {
	if s.PublicURL != "" {
		return strings.TrimRight(s.PublicURL, "/") + "/"
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := r.Host
	if _, rest, ok := strings.Cut(host, "."); ok {
		host = rest
	}
	return scheme + "://" + host + "/"
}

// createPreview is POST /api/previews {workspaceId, port}: a one-time
// ticket URL for the preview of one of the user's ports. Another user's
// workspace or port is answered like a missing one.
func (s *Server) createPreview(w http.ResponseWriter, r *http.Request, u *store.User) {
	var body struct {
		WorkspaceID string `json:"workspaceId"`
		Port        int    `json:"port"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body); err != nil ||
		body.WorkspaceID == "" || body.Port < 1 || body.Port > 65535 {
		writeError(w, http.StatusBadRequest, "INVALID_PAYLOAD", `want a JSON body {"workspaceId": "...", "port": 1-65535}`)
		return
	}
	ws, err := s.workspace(r.Context(), u.ID, body.WorkspaceID)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, CodeWorkspaceNotFound, "Workspace not found")
		return
	}
	if err != nil {
		e := workspaceError(body.WorkspaceID, err)
		writeError(w, http.StatusNotFound, e.Code, e.Message)
		return
	}
	if _, ok := s.ports.Lookup(u.ID, ws.ID, body.Port); !ok {
		writeError(w, http.StatusNotFound, "PORT_NOT_FOUND", "Nothing in this workspace listens on that port")
		return
	}
	host := fmt.Sprintf("%d--%s--%s.%s", body.Port, hostLabel(ws.Name, ws.ID), u.Name, s.previewDomain())
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	g := previewGrant{userID: u.ID, workspaceID: ws.ID, port: body.Port, host: host,
		expires: time.Now().Add(previewTicketTTL), token: strings.TrimSpace(token)}
	t, ok := s.previewAuth.put(&s.previewAuth.tickets, g)
	if !ok {
		writeError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "Too many previews; try again later")
		return
	}
	base, _ := url.Parse(s.codetermURL(r))
	if base == nil || base.Host == "" {
		base = &url.URL{Scheme: "http", Host: r.Host}
	}
	if p := base.Port(); p != "" {
		host = net.JoinHostPort(host, p)
	}
	origin := base.Scheme + "://" + host
	writeJSON(w, http.StatusOK, map[string]any{
		"url":    origin + previewAuthPath + "?ticket=" + url.QueryEscape(t),
		"origin": origin + "/",
	})
}
