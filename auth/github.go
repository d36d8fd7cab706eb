package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v84/github"

	"github.com/codeterm/codeterm/store"
)

// GitHub sign-in errors. The texts around them name the GitHub login and
// the step that failed, never a code, a token or the client secret.
var (
	// ErrOAuthState: the callback's state is missing, forged, expired,
	// already used or not this browser's.
	ErrOAuthState = errors.New("invalid or expired OAuth state")
	// ErrGitHubNotAllowed: the GitHub login is not in github.allowed_users.
	ErrGitHubNotAllowed = errors.New("GitHub user is not allowed to sign in")
	// ErrGitHubAccount: the login is allowed but no account can be matched
	// or created for it without guessing.
	ErrGitHubAccount = errors.New("no codeterm account for this GitHub user")
	// ErrGitHubExchange: GitHub refused the code or could not be reached.
	ErrGitHubExchange = errors.New("GitHub sign-in failed")
)

// DefaultOAuthStateTTL is how long a sign-in may take between the redirect to
// GitHub and the callback.
const DefaultOAuthStateTTL = 10 * time.Minute

// GitHubOAuth signs browsers in with GitHub's OAuth web flow and stores the
// resulting token for repository listing and cloning.
//
// AllowedUsers gates every sign-in, also of accounts linked earlier, so
// removing a login from the list locks it out. An entry is either a GitHub
// login, which signs in as the account linked to it or, on first sign-in, a
// new account named after the login; or "login:name", which links the login
// to the existing (or new) codeterm account name. An allowed login whose
// derived name is already taken by an unlinked account is refused rather
// than attached to it: GitHub's "alice" is not necessarily codeterm's.
type GitHubOAuth struct {
	Auth         *Service
	ClientID     string
	ClientSecret string
	// WebURL is GitHub's web root (https://github.com/ or an Enterprise
	// server's), where /login/oauth/* live.
	WebURL string
	// API is a go-github client for the REST root, without credentials.
	API          *github.Client
	AllowedUsers []string
	// HTTPClient talks to WebURL; default: 15s timeout.
	HTTPClient *http.Client
	// StateTTL defaults to DefaultOAuthStateTTL.
	StateTTL time.Duration

	mu   sync.Mutex
	used map[string]time.Time // consumed state nonces (hashed) until they expire
}

// Scope is what codeterm asks GitHub for: read and push to the user's
// repositories, private ones included.
const Scope = "repo"

func (o *GitHubOAuth) ttl() time.Duration {
	if o.StateTTL > 0 {
		return o.StateTTL
	}
	return DefaultOAuthStateTTL
}

func (o *GitHubOAuth) httpClient() *http.Client {
	if o.HTTPClient != nil {
		return o.HTTPClient
	}
	return &http.Client{Timeout: 15 * time.Second}
}

func (o *GitHubOAuth) webURL(p string) string {
	return strings.TrimRight(o.WebURL, "/") + p
}

// NewState starts a sign-in. The browser keeps nonce in a cookie; state
// goes to GitHub and comes back in the callback. state is the expiry and an
// HMAC over the nonce and that expiry, so the server keeps nothing until the
// callback and a state is useless without the cookie it was made for.
func (o *GitHubOAuth) NewState() (state, nonce string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("oauth state: %w", err)
	}
	nonce = base64.RawURLEncoding.EncodeToString(b[:])
	exp := strconv.FormatInt(o.Auth.now().Add(o.ttl()).Unix(), 10)
	sum := mac(o.Auth.subkey("github-oauth-state"), nonce, exp)
	return exp + "." + base64.RawURLEncoding.EncodeToString(sum), nonce, nil
}

// CheckState verifies the callback's state against the browser's nonce and
// consumes it: the same state never passes twice.
func (o *GitHubOAuth) CheckState(state, nonce string) error {
	exp, sum, ok := strings.Cut(state, ".")
	if !ok || nonce == "" || len(state) > 256 || len(nonce) > 256 {
		return ErrOAuthState
	}
	got, err := base64.RawURLEncoding.DecodeString(sum)
	if err != nil || !hmac.Equal(got, mac(o.Auth.subkey("github-oauth-state"), nonce, exp)) {
		return ErrOAuthState
	}
	expUnix, err := strconv.ParseInt(exp, 10, 64)
	now := o.Auth.now()
	if err != nil || now.Unix() >= expUnix {
		return fmt.Errorf("%w: expired", ErrOAuthState)
	}
	h := sha256.Sum256([]byte(nonce))
	key := hex.EncodeToString(h[:])
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.used == nil {
		o.used = map[string]time.Time{}
	}
	for k, until := range o.used {
		if now.After(until) {
			delete(o.used, k)
		}
	}
	if _, seen := o.used[key]; seen {
		return fmt.Errorf("%w: already used", ErrOAuthState)
	}
	o.used[key] = time.Unix(expUnix, 0)
	return nil
}

// AuthorizeURL is where the browser goes to approve codeterm on GitHub.
func (o *GitHubOAuth) AuthorizeURL(redirectURI, state string) string {
	q := url.Values{}
	q.Set("client_id", o.ClientID)
	q.Set("redirect_uri", redirectURI)
	q.Set("state", state)
	q.Set("scope", Scope)
	return o.webURL("/login/oauth/authorize") + "?" + q.Encode()
}

// SignIn finishes the flow for a callback whose state already passed
// CheckState: it exchanges the code, asks GitHub who the user is, applies
// the allow-list, finds or creates the account and stores the token.
func (o *GitHubOAuth) SignIn(ctx context.Context, code, redirectURI string) (*store.User, error) {
	if code == "" || len(code) > 512 {
		return nil, fmt.Errorf("%w: missing code", ErrGitHubExchange)
	}
	token, scope, err := o.exchange(ctx, code, redirectURI)
	if err != nil {
		return nil, err
	}
	gh, _, err := o.API.WithAuthToken(token).Users.Get(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("%w: fetch GitHub user: %w", ErrGitHubExchange, err)
	}
	login := gh.GetLogin()
	if login == "" {
		return nil, fmt.Errorf("%w: GitHub returned no login", ErrGitHubExchange)
	}
	name, allowed := o.allowed(login)
	if !allowed {
		return nil, fmt.Errorf("%w: %s", ErrGitHubNotAllowed, login)
	}
	u, err := o.account(ctx, login, name)
	if err != nil {
		return nil, err
	}
	if err := o.Auth.SaveGitHubToken(ctx, u.ID, login, token, scope); err != nil {
		return nil, err
	}
	return u, nil
}

// allowed looks login up in AllowedUsers (GitHub logins are
// case-insensitive) and returns the account name the entry asks for, "" if
// it names none.
func (o *GitHubOAuth) allowed(login string) (name string, ok bool) {
	for _, e := range o.AllowedUsers {
		l, n, _ := strings.Cut(strings.TrimSpace(e), ":")
		if strings.EqualFold(l, login) {
			return strings.TrimSpace(n), true
		}
	}
	return "", false
}

// account finds the codeterm account of an allowed login, linking or
// creating one as described on GitHubOAuth.
func (o *GitHubOAuth) account(ctx context.Context, login, name string) (*store.User, error) {
	st := o.Auth.Store
	canon := strings.ToLower(login)
	u, err := st.UserByGitHubLogin(ctx, canon)
	if err == nil {
		return u, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	explicit := name != ""
	if !explicit {
		name = OwnerName(canon)
	}
	if err := ValidateUserName(name); err != nil {
		return nil, fmt.Errorf("%w: allowed_users entry for %s: %w", ErrGitHubAccount, login, err)
	}
	u, err = st.UserByName(ctx, name)
	switch {
	case err == nil && !explicit:
		return nil, fmt.Errorf("%w: the account name %q is taken by an account not linked to GitHub; to link them write %q in github.allowed_users",
			ErrGitHubAccount, name, login+":"+name)
	case err == nil && u.GitHubLogin != "":
		return nil, fmt.Errorf("%w: account %q is linked to another GitHub user", ErrGitHubAccount, name)
	case errors.Is(err, store.ErrNotFound):
		if u, err = o.Auth.AddUser(ctx, name); err != nil {
			return nil, fmt.Errorf("%w: create account %q: %w", ErrGitHubAccount, name, err)
		}
	case err != nil:
		return nil, err
	}
	if err := st.SetGitHubLogin(ctx, u.ID, canon); err != nil {
		return nil, fmt.Errorf("%w: link %q to GitHub user %s: %w", ErrGitHubAccount, name, login, err)
	}
	u.GitHubLogin = canon
	return u, nil
}

// exchange trades the callback's code for a token at GitHub's token
// endpoint. GitHub answers errors with status 200 and an "error" field.
func (o *GitHubOAuth) exchange(ctx context.Context, code, redirectURI string) (token, scope string, err error) {
	form := url.Values{}
	form.Set("client_id", o.ClientID)
	form.Set("client_secret", o.ClientSecret)
	form.Set("code", code)
	form.Set("redirect_uri", redirectURI)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.webURL("/login/oauth/access_token"), strings.NewReader(form.Encode()))
	if err != nil {
		return "", "", fmt.Errorf("%w: %w", ErrGitHubExchange, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := o.httpClient().Do(req)
	if err != nil {
		// *url.Error names the URL, which carries no secret (they are in the body).
		return "", "", fmt.Errorf("%w: token endpoint: %w", ErrGitHubExchange, err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		Scope       string `json:"scope"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body); err != nil {
		return "", "", fmt.Errorf("%w: token endpoint answered %s without JSON", ErrGitHubExchange, resp.Status)
	}
	switch {
	case body.Error != "":
		return "", "", fmt.Errorf("%w: %s: %s", ErrGitHubExchange, body.Error, body.Description)
	case resp.StatusCode != http.StatusOK || body.AccessToken == "":
		return "", "", fmt.Errorf("%w: token endpoint answered %s without a token", ErrGitHubExchange, resp.Status)
	case body.TokenType != "" && !strings.EqualFold(body.TokenType, "bearer"):
		return "", "", fmt.Errorf("%w: unexpected token type %q", ErrGitHubExchange, body.TokenType)
	}
	return body.AccessToken, body.Scope, nil
}
