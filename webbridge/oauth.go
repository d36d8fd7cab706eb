package webbridge

import (
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/codeterm/codeterm/auth"
)

// stateCookie holds the browser's half of a GitHub sign-in in flight. It is
// scoped to the callback's path, HttpOnly and SameSite=Lax: GitHub's
// redirect back is a top-level GET, which Lax lets through, while other
// sites cannot read it or send it from their own requests.
const (
	stateCookie     = "codeterm_github_state"
	stateCookiePath = "/api/auth/github"
)

func (s *Server) oauthRoutes(mux *http.ServeMux) {
	if s.GitHub != nil && len(s.GitHub.OAuth.AllowedUsers) == 0 {
		s.Log.Warn("github.allowed_users is empty: nobody can sign in with GitHub")
	}
	mux.HandleFunc("GET /api/auth/providers", s.authProviders)
	mux.HandleFunc("GET /api/auth/github", s.githubAuthorize)
	mux.HandleFunc("GET /api/auth/github/callback", s.githubCallback)
}

// authProviders tells the login page which sign-in buttons to show.
func (s *Server) authProviders(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]bool{"github": s.GitHub != nil})
}

// callbackURL is the redirect_uri, which must equal the callback URL
// registered with the GitHub OAuth app. Without a configured public URL it
// follows the request; a forged Host only makes GitHub refuse the sign-in.
func (s *Server) callbackURL(r *http.Request) string {
	base := strings.TrimRight(s.PublicURL, "/")
	if base == "" {
		base = requestScheme(r) + "://" + r.Host
	}
	return base + "/api/auth/github/callback"
}

func (s *Server) secureCookies(r *http.Request) bool {
	return requestScheme(r) == "https" || strings.HasPrefix(strings.ToLower(s.PublicURL), "https://")
}

// githubAuthorize starts a sign-in: a fresh state bound to this browser by
// a cookie, and a redirect to GitHub.
func (s *Server) githubAuthorize(w http.ResponseWriter, r *http.Request) {
	if s.GitHub == nil {
		oauthError(w, r, http.StatusNotFound, CodeGitHubNotConfigured, "GitHub sign-in is not configured on this server")
		return
	}
	state, nonce, err := s.GitHub.OAuth.NewState()
	if err != nil {
		s.Log.Error("github oauth state", "err", err)
		oauthError(w, r, http.StatusInternalServerError, CodeInternal, "sign-in failed")
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: stateCookie, Value: nonce, Path: stateCookiePath,
		MaxAge: int(auth.DefaultOAuthStateTTL.Seconds()), HttpOnly: true,
		Secure: s.secureCookies(r), SameSite: http.SameSiteLaxMode,
	})
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, s.GitHub.OAuth.AuthorizeURL(s.callbackURL(r), state), http.StatusFound)
}

// githubCallback finishes a sign-in and hands the browser a one-time login
// code (/login?code=...), which the page exchanges for its token as with
// any login link: no token ever appears in a URL.
func (s *Server) githubCallback(w http.ResponseWriter, r *http.Request) {
	if s.GitHub == nil {
		oauthError(w, r, http.StatusNotFound, CodeGitHubNotConfigured, "GitHub sign-in is not configured on this server")
		return
	}
	if s.LoginLimiter != nil && !s.LoginLimiter.Allow(loginLimitKey(r, "github "+r.URL.Query().Get("state"))) {
		oauthError(w, r, http.StatusTooManyRequests, CodeRateLimited, "too many login attempts; wait a minute")
		return
	}
	// The cookie is spent whatever happens next.
	http.SetCookie(w, &http.Cookie{Name: stateCookie, Value: "", Path: stateCookiePath, MaxAge: -1,
		HttpOnly: true, Secure: s.secureCookies(r), SameSite: http.SameSiteLaxMode})
	w.Header().Set("Cache-Control", "no-store")
	q := r.URL.Query()
	nonce := ""
	if c, err := r.Cookie(stateCookie); err == nil {
		nonce = c.Value
	}
	if err := s.GitHub.OAuth.CheckState(q.Get("state"), nonce); err != nil {
		s.Log.Info("github sign-in refused", "remote", clientIP(r), "err", err)
		oauthError(w, r, http.StatusBadRequest, "INVALID_OAUTH_STATE", "this sign-in link is invalid, expired or was opened in another browser; start again")
		return
	}
	if e := q.Get("error"); e != "" {
		s.Log.Info("github sign-in declined", "remote", clientIP(r), "error", truncate(e, 64))
		oauthError(w, r, http.StatusForbidden, "GITHUB_DENIED", "GitHub sign-in was cancelled")
		return
	}
	u, err := s.GitHub.OAuth.SignIn(r.Context(), q.Get("code"), s.callbackURL(r))
	switch {
	case errors.Is(err, auth.ErrGitHubNotAllowed):
		s.Log.Warn("github sign-in refused", "remote", clientIP(r), "err", err)
		oauthError(w, r, http.StatusForbidden, "GITHUB_USER_NOT_ALLOWED", "this GitHub account may not sign in to this server")
		return
	case errors.Is(err, auth.ErrGitHubAccount):
		s.Log.Warn("github sign-in refused", "remote", clientIP(r), "err", err)
		oauthError(w, r, http.StatusForbidden, "GITHUB_ACCOUNT_CONFLICT", "no codeterm account can be matched to this GitHub account; ask the operator")
		return
	case errors.Is(err, auth.ErrGitHubExchange):
		s.Log.Warn("github sign-in failed", "remote", clientIP(r), "err", err)
		oauthError(w, r, http.StatusBadGateway, CodeGitHubAPIError, "GitHub did not confirm the sign-in; start again")
		return
	case err != nil:
		s.Log.Error("github sign-in", "err", err)
		oauthError(w, r, http.StatusInternalServerError, CodeInternal, "sign-in failed")
		return
	}
	code, err := s.Auth.NewLoginCode(r.Context(), u.ID)
	if err != nil {
		s.Log.Error("github sign-in: login code", "err", err)
		oauthError(w, r, http.StatusInternalServerError, CodeInternal, "sign-in failed")
		return
	}
	s.Log.Info("github sign-in", "user", u.Name, "github", u.GitHubLogin, "remote", clientIP(r))
	http.Redirect(w, r, "/login?code="+url.QueryEscape(code), http.StatusFound)
}

// oauthError answers a failed sign-in step. The browser arrives here from
// GitHub, so a person reads it: a short page with the reason and a way back,
// rather than the JSON an API client gets.
func oauthError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	if !strings.Contains(r.Header.Get("Accept"), "text/html") {
		writeError(w, status, code, msg)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.WriteHeader(status)
	oauthErrorPage.Execute(w, struct{ Code, Message string }{code, msg})
}

var oauthErrorPage = template.Must(template.New("oauth-error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>codeterm: sign-in failed</title>
<style>body{font:16px system-ui,sans-serif;background:#1e1e1e;color:#ddd;display:grid;place-items:center;min-height:90vh}
main{max-width:32rem;padding:1rem}code{color:#999}a{color:#6cb6ff}</style></head>
<body><main><h1>Sign-in failed</h1><p>{{.Message}}</p><p><code>{{.Code}}</code></p>
<p><a href="/login">Back to the sign-in page</a></p></main></body></html>
`))
