package webbridge

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/codeterm/codeterm/auth"
	"github.com/codeterm/codeterm/gitcred"
	"github.com/codeterm/codeterm/store"
	"github.com/codeterm/codeterm/workspaces"

	"github.com/codeterm/codeterm/internal/gittest"
)

// TestMain lets the test binary stand in for `codeterm git-credential`:
// git in a test session's shell runs it as the workspace's credential
// helper, so the helper code under test is the one the command uses.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "git-credential" {
		fs := flag.NewFlagSet("git-credential", flag.ExitOnError)
		socket := fs.String("socket", "", "")
		fs.Parse(os.Args[2:])
		if err := gitcred.Helper(fs.Arg(0), *socket, os.Environ(), os.Stdin, os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// fakeGitHub is GitHub as codeterm sees it: the web host (OAuth token
// endpoint, and git smart HTTP that requires a user's token as the basic
// auth password of x-access-token) and the REST API host.
type fakeGitHub struct {
	t        *testing.T
	web, api *httptest.Server
	gitRoot  string

	mu     sync.Mutex
	codes  map[string]string // OAuth code → token, single use
	logins map[string]string // token → GitHub login
	repos  []map[string]any
}

const (
	fakeClientID     = "Iv1.fakeclient"
	fakeClientSecret = "fake-client-secret-value"
)

func newFakeGitHub(t *testing.T) *fakeGitHub {
	t.Helper()
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	t.Setenv("GIT_CONFIG_GLOBAL", os.DevNull)
	f := &fakeGitHub{t: t, gitRoot: t.TempDir(), codes: map[string]string{}, logins: map[string]string{}}
	backend := gittest.Backend(t, f.gitRoot)
	web := http.NewServeMux()
	web.HandleFunc("POST /login/oauth/access_token", f.accessToken)
	web.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		f.mu.Lock()
		_, known := f.logins[pass]
		f.mu.Unlock()
		if !ok || user != "x-access-token" || !known {
			w.Header().Set("WWW-Authenticate", `Basic realm="GitHub"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, r)
	})
	f.web = httptest.NewServer(web)
	t.Cleanup(f.web.Close)

	api := http.NewServeMux()
	api.HandleFunc("GET /user", f.authed(func(w http.ResponseWriter, r *http.Request, login string) {
		json.NewEncoder(w).Encode(map[string]any{"login": login, "id": len(login), "type": "User"})
	}))
	api.HandleFunc("GET /user/repos", f.authed(f.userRepos))
	api.HandleFunc("GET /repositories/{id}", f.authed(func(w http.ResponseWriter, r *http.Request, _ string) {
		f.mu.Lock()
		repos := f.repos
		f.mu.Unlock()
		for _, rp := range repos {
			if fmt.Sprint(rp["id"]) == r.PathValue("id") {
				json.NewEncoder(w).Encode(rp)
				return
			}
		}
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"message":"Not Found"}`))
	}))
	f.api = httptest.NewServer(api)
	t.Cleanup(f.api.Close)
	return f
}

func (f *fakeGitHub) authed(h func(http.ResponseWriter, *http.Request, string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		f.mu.Lock()
		login, ok := f.logins[tok]
		f.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"message":"Bad credentials"}`))
			return
		}
		h(w, r, login)
	}
}

// accessToken is GitHub's token endpoint: errors come as 200 with "error".
func (f *fakeGitHub) accessToken(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	w.Header().Set("Content-Type", "application/json")
	if r.Header.Get("Accept") != "application/json" {
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
		w.Write([]byte("error=accept"))
		return
	}
	if r.PostForm.Get("client_id") != fakeClientID || r.PostForm.Get("client_secret") != fakeClientSecret {
		json.NewEncoder(w).Encode(map[string]string{"error": "incorrect_client_credentials"})
		return
	}
	if !strings.HasSuffix(r.PostForm.Get("redirect_uri"), "/api/auth/github/callback") {
		json.NewEncoder(w).Encode(map[string]string{"error": "redirect_uri_mismatch"})
		return
	}
	f.mu.Lock()
	tok, ok := f.codes[r.PostForm.Get("code")]
	delete(f.codes, r.PostForm.Get("code"))
	f.mu.Unlock()
	if !ok {
		json.NewEncoder(w).Encode(map[string]string{"error": "bad_verification_code", "error_description": "The code passed is incorrect or expired."})
		return
	}
	json.NewEncoder(w).Encode(map[string]string{"access_token": tok, "token_type": "bearer", "scope": "repo"})
}

// userRepos pages f.repos with a Link header as GitHub writes it.
func (f *fakeGitHub) userRepos(w http.ResponseWriter, r *http.Request, _ string) {
	f.mu.Lock()
	repos := f.repos
	f.mu.Unlock()
	q := r.URL.Query()
	page, _ := strconv.Atoi(q.Get("page"))
	per, _ := strconv.Atoi(q.Get("per_page"))
	page, per = max(page, 1), max(per, 1)
	last := max((len(repos)+per-1)/per, 1)
	link := func(p int, rel string) string {
		v := url.Values{"page": {strconv.Itoa(p)}, "per_page": {strconv.Itoa(per)}, "sort": {q.Get("sort")}}
		return fmt.Sprintf(`<%s/user/repos?%s>; rel="%s"`, f.api.URL, v.Encode(), rel)
	}
	var links []string
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		links = append(links, link(page-1, "prev"), link(1, "first"))
	}
	if links != nil {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	from, to := min((page-1)*per, len(repos)), min(page*per, len(repos))
	json.NewEncoder(w).Encode(repos[from:to])
}

// addUser registers a GitHub user and returns their token.
func (f *fakeGitHub) addUser(login string) string {
	tok := "gho_" + login + "_" + store.NewID()
	f.mu.Lock()
	f.logins[tok] = login
	f.mu.Unlock()
	return tok
}

// approve is the user clicking "Authorize" on GitHub: a code for their token.
func (f *fakeGitHub) approve(token string) string {
	code := "code_" + store.NewID()
	f.mu.Lock()
	f.codes[code] = token
	f.mu.Unlock()
	return code
}

// addRepo creates the bare repository owner/name.git with one commit and
// lists it.
func (f *fakeGitHub) addRepo(id int64, fullName string, private bool) {
	t := f.t
	bare := filepath.Join(f.gitRoot, fullName+".git")
	os.MkdirAll(filepath.Dir(bare), 0o755)
	git(t, f.gitRoot, "init", "-q", "--bare", "-b", "main", bare)
	git(t, bare, "config", "http.receivepack", "true")
	work := t.TempDir()
	git(t, work, "clone", "-q", bare, "w")
	os.WriteFile(filepath.Join(work, "w", "README"), []byte(fullName+"\n"), 0o644)
	git(t, filepath.Join(work, "w"), "add", "-A")
	git(t, filepath.Join(work, "w"), "commit", "-q", "-m", "initial")
	git(t, filepath.Join(work, "w"), "push", "-q", "origin", "HEAD")
	name := filepath.Base(fullName)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.repos = append(f.repos, map[string]any{
		"id": id, "node_id": "R_x", "name": name, "full_name": fullName, "private": private,
		"clone_url": f.web.URL + "/" + fullName + ".git", "html_url": f.web.URL + "/" + fullName,
		"default_branch": "main", "updated_at": "2024-05-01T10:00:00Z", "description": "the " + name + " project",
	})
}

func (f *fakeGitHub) config(t *testing.T, allowed ...string) *GitHub {
	t.Helper()
	api, err := workspaces.NewGitHubClient(f.api.URL+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "cred.sock")
	return &GitHub{
		OAuth: &auth.GitHubOAuth{ClientID: fakeClientID, ClientSecret: fakeClientSecret, WebURL: f.web.URL + "/",
			API: api, AllowedUsers: allowed},
		Repos:            &workspaces.GitHub{Client: api, WebURL: f.web.URL + "/"},
		CredentialSocket: sock,
		CredentialHelper: "!'" + exe + "' git-credential --socket '" + sock + "'",
	}
}

// lockedBuffer collects log output from many goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestGitHubNotConfigured(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.dial(e.token(e.alice))
	if got := ackCode(c.call("get-repositories", map[string]any{"page": 1})); got != CodeGitHubNotConfigured {
		t.Fatalf("get-repositories: %s", got)
	}
	if got := ackCode(c.call("clone-workspace", map[string]any{"repositoryId": 1})); got != CodeGitHubNotConfigured {
		t.Fatalf("clone-workspace: %s", got)
	}
	c.waitEvent("workspace-error", 0, func(m map[string]any) bool {
		return m["code"] == CodeGitHubNotConfigured && m["operation"] == "clone"
	})
	if ack := c.call("repository-selected", map[string]any{"repositoryId": 7, "action": "view-details"}); ack["ok"] != true {
		t.Fatalf("repository-selected: %v", ack)
	}
	for _, p := range []string{"/api/auth/github", "/api/auth/github/callback?code=x&state=y"} {
		resp, err := http.Get(e.ts.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Error apiError }
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || body.Error.Code != CodeGitHubNotConfigured {
			t.Fatalf("%s: %d %+v", p, resp.StatusCode, body)
		}
	}
	if got := getProviders(t, e); got["github"] != false {
		t.Fatalf("providers %v", got)
	}
}

func getProviders(t *testing.T, e *testEnv) map[string]bool {
	t.Helper()
	resp, err := http.Get(e.ts.URL + "/api/auth/providers")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]bool
	json.NewDecoder(resp.Body).Decode(&out)
	return out
}

// browser is an HTTP client with a cookie jar that does not follow redirects.
func browser(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: testTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp, b.String()
}

// authorize starts a sign-in in the browser and returns GitHub's authorize
// URL query (state, redirect_uri...).
func authorize(t *testing.T, e *testEnv, c *http.Client) url.Values {
	t.Helper()
	resp, _ := get(t, c, e.ts.URL+"/api/auth/github")
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: %d", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc.Query()
}

// callback is GitHub redirecting the browser back.
func callback(t *testing.T, c *http.Client, q url.Values, code, state string) (*http.Response, string) {
	t.Helper()
	v := url.Values{}
	if code != "" {
		v.Set("code", code)
	}
	if state != "" {
		v.Set("state", state)
	}
	return get(t, c, q.Get("redirect_uri")+"?"+v.Encode())
}

func bodyCode(body string) string {
	var b struct{ Error apiError }
	json.Unmarshal([]byte(body), &b)
	return b.Error.Code
}

// finishLogin follows /login?code=... as the page does, returning the
// signed-in user.
func finishLogin(t *testing.T, e *testEnv, resp *http.Response) *store.User {
	t.Helper()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || loc.Path != "/login" || loc.Query().Get("code") == "" {
		t.Fatalf("callback did not land on /login?code=: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	body, _ := json.Marshal(map[string]string{"code": loc.Query().Get("code")})
	r, err := http.Post(e.ts.URL+"/api/auth/exchange", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	var out struct{ Token string }
	json.NewDecoder(r.Body).Decode(&out)
	_, u, err := e.auth.Verify(context.Background(), out.Token)
	if err != nil {
		t.Fatalf("exchange: %d %v", r.StatusCode, err)
	}
	return u
}

func TestGitHubOAuth(t *testing.T) {
	f := newFakeGitHub(t)
	logs := &lockedBuffer{}
	gh := f.config(t, "Octo", "ghalice:alice", "bob")
	e := newEnv(t, envOptions{github: gh, log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	ctx := context.Background()
	if got := getProviders(t, e); got["github"] != true {
		t.Fatalf("providers %v", got)
	}
	octo, eve, ghalice, bob := f.addUser("octo"), f.addUser("eve"), f.addUser("ghalice"), f.addUser("bob")

	c := browser(t)
	q := authorize(t, e, c)
	if q.Get("client_id") != fakeClientID || q.Get("scope") != "repo" || q.Get("state") == "" ||
		q.Get("redirect_uri") != e.ts.URL+"/api/auth/github/callback" {
		t.Fatalf("authorize query %v", q)
	}
	u, _ := url.Parse(e.ts.URL)
	var cookie *http.Cookie
	for _, ck := range c.Jar.Cookies(&url.URL{Scheme: "http", Host: u.Host, Path: "/api/auth/github/callback"}) {
		if ck.Name == stateCookie {
			cookie = ck
		}
	}
	if cookie == nil || strings.Contains(q.Get("state"), cookie.Value) {
		t.Fatalf("state cookie %v must exist and differ from the state", cookie)
	}
	resp, _ := get(t, c, e.ts.URL+"/api/auth/github")
	raw := strings.Join(resp.Header.Values("Set-Cookie"), "\n")
	if !strings.Contains(raw, "HttpOnly") || !strings.Contains(raw, "SameSite=Lax") || !strings.Contains(raw, "Path=/api/auth/github") {
		t.Fatalf("cookie attributes: %s", raw)
	}

	// Refused: a wrong, a missing state, and a right state in another browser.
	q = authorize(t, e, c)
	state := q.Get("state")
	if resp, body := callback(t, c, q, f.approve(octo), state+"x"); resp.StatusCode != http.StatusBadRequest || bodyCode(body) != "INVALID_OAUTH_STATE" {
		t.Fatalf("wrong state: %d %s", resp.StatusCode, body)
	}
	q = authorize(t, e, c)
	if resp, body := callback(t, c, q, f.approve(octo), ""); resp.StatusCode != http.StatusBadRequest || bodyCode(body) != "INVALID_OAUTH_STATE" {
		t.Fatalf("missing state: %d %s", resp.StatusCode, body)
	}
	q = authorize(t, e, c)
	if resp, body := callback(t, browser(t), q, f.approve(octo), q.Get("state")); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("other browser: %d %s", resp.StatusCode, body)
	}

	// Success: octo (allowed as "Octo") gets a new account "octo".
	q = authorize(t, e, c)
	resp, _ = callback(t, c, q, f.approve(octo), q.Get("state"))
	user := finishLogin(t, e, resp)
	if user.Name != "octo" || user.GitHubLogin != "octo" {
		t.Fatalf("signed in as %+v", user)
	}
	if tok, err := e.auth.GitHubToken(ctx, user.ID); err != nil || tok != octo {
		t.Fatalf("stored token: %v", err)
	}
	// The same state again is refused, even with its cookie replayed.
	jar := c.Jar
	jar.SetCookies(&url.URL{Scheme: "http", Host: u.Host, Path: "/api/auth/github"}, []*http.Cookie{cookie})
	if resp, body := callback(t, c, q, f.approve(octo), q.Get("state")); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("reused state: %d %s", resp.StatusCode, body)
	}
	// Signing in again lands on the same account.
	q = authorize(t, e, c)
	resp, _ = callback(t, c, q, f.approve(octo), q.Get("state"))
	if again := finishLogin(t, e, resp); again.ID != user.ID {
		t.Fatalf("second sign-in: %+v", again)
	}

	// ghalice is linked to the existing account alice by "ghalice:alice".
	q = authorize(t, e, c)
	resp, _ = callback(t, c, q, f.approve(ghalice), q.Get("state"))
	if got := finishLogin(t, e, resp); got.ID != e.alice.ID {
		t.Fatalf("ghalice signed in as %+v", got)
	}

	// Refused: a login off the allow-list, and an allowed login whose name
	// belongs to an unlinked account.
	q = authorize(t, e, c)
	if resp, body := callback(t, c, q, f.approve(eve), q.Get("state")); resp.StatusCode != http.StatusForbidden || bodyCode(body) != "GITHUB_USER_NOT_ALLOWED" {
		t.Fatalf("eve: %d %s", resp.StatusCode, body)
	}
	if _, err := e.store.UserByName(ctx, "eve"); err == nil {
		t.Fatal("an account was created for a refused login")
	}
	q = authorize(t, e, c)
	if resp, body := callback(t, c, q, f.approve(bob), q.Get("state")); resp.StatusCode != http.StatusForbidden || bodyCode(body) != "GITHUB_ACCOUNT_CONFLICT" {
		t.Fatalf("bob: %d %s", resp.StatusCode, body)
	}
	if _, err := e.auth.GitHubToken(ctx, e.bob.ID); err == nil {
		t.Fatal("bob's codeterm account got the GitHub bob's token")
	}
	// GitHub refusing the code.
	q = authorize(t, e, c)
	if resp, body := callback(t, c, q, "made-up-code", q.Get("state")); resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("bad code: %d %s", resp.StatusCode, body)
	}
	// A browser (Accept: text/html) gets a page saying why, not JSON.
	req, _ := http.NewRequest("GET", e.ts.URL+"/api/auth/github/callback?code=x&state=<b>y</b>", nil)
	req.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(string(page), "opened in another browser") || !strings.Contains(string(page), `href="/login"`) ||
		strings.Contains(string(page), "<b>y") {
		t.Fatalf("browser's error page: %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), page)
	}

	for _, secret := range []string{octo, ghalice, eve, bob, fakeClientSecret} {
		if strings.Contains(logs.String(), secret) {
			t.Fatalf("a secret is in the log:\n%s", logs.String())
		}
	}
}

var rcRE = regexp.MustCompile(`RC=(\d+)`)

// shellRun types cmd into a session and returns its exit status and output.
func shellRun(t *testing.T, c *sioClient, sessionID, cmd string) (int, string) {
	t.Helper()
	from := c.count()
	if ack := c.call("terminal-input", map[string]any{"sessionId": sessionID, "data": cmd + `; echo "R""C=$?"` + "\r"}); ack["ok"] != true {
		t.Fatalf("terminal-input: %v", ack)
	}
	c.waitFor("exit status of "+cmd, func() bool {
		c.mu.Unlock()
		defer c.mu.Lock()
		return rcRE.MatchString(c.output(sessionID, from))
	})
	out := c.output(sessionID, from)
	rc, _ := strconv.Atoi(rcRE.FindStringSubmatch(out)[1])
	return rc, out
}

func TestGitHubCloneAndCredentialHelper(t *testing.T) {
	f := newFakeGitHub(t)
	f.addRepo(4242, "octo/demo", true)
	f.addRepo(4343, "octo/other", false)
	logs := &lockedBuffer{}
	gh := f.config(t, "octo")
	e := newEnv(t, envOptions{github: gh, log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	ctx := context.Background()
	token := f.addUser("octo")
	if err := e.auth.SaveGitHubToken(ctx, e.alice.ID, "octo", token, "repo"); err != nil {
		t.Fatal(err)
	}
	alice := e.dial(e.token(e.alice))
	bob := e.dial(e.token(e.bob))

	// get-repositories pages with GitHub's field names.
	ack := alice.call("get-repositories", map[string]any{"page": 1, "per_page": 1, "sort": "updated"})
	loaded, _ := alice.waitEvent("repositories-loaded", 0, nil)
	repos, _ := loaded["repositories"].([]any)
	if ack["ok"] != true || len(repos) != 1 || loaded["total_count"] != 2.0 || loaded["page"] != 1.0 || loaded["has_next"] != true {
		t.Fatalf("repositories-loaded %v (ack %v)", loaded, ack)
	}
	r0 := repos[0].(map[string]any)
	for _, k := range []string{"id", "name", "full_name", "private", "clone_url", "default_branch", "updated_at", "description", "html_url"} {
		if _, ok := r0[k]; !ok {
			t.Errorf("repository lacks %s: %v", k, r0)
		}
	}
	if r0["id"] != 4242.0 || r0["full_name"] != "octo/demo" || r0["private"] != true {
		t.Fatalf("repository %v", r0)
	}
	if ack := alice.call("get-repositories", map[string]any{"page": 2, "per_page": 1}); ack["has_next"] != false || ack["total_count"] != 2.0 {
		t.Fatalf("page 2: %v", ack)
	}
	if got := ackCode(bob.call("get-repositories", map[string]any{})); got != CodeGitHubAuthRequired {
		t.Fatalf("bob without token: %s", got)
	}

	// Without a token the git server refuses the private repository.
	cloneURL := f.web.URL + "/octo/demo.git"
	if got := ackCode(bob.call("create-workspace", map[string]any{"name": "anon", "repoUrl": cloneURL})); got != "GIT_CLONE_FAILED" {
		t.Fatalf("clone without token: %s", got)
	}
	// create-workspace with a URL on GitHub's host clones with the user's
	// token and sets up the credential helper, as clone-workspace does.
	if ack := alice.call("create-workspace", map[string]any{"name": "by-url", "repoUrl": cloneURL}); ack["ok"] != true {
		t.Fatalf("create-workspace with alice's token: %v", ack)
	} else {
		dir := ack["workspace"].(map[string]any)["localPath"].(string)
		out, err := exec.Command("git", "-C", dir, "config", "--get-all", "credential."+f.web.URL+".helper").Output()
		if err != nil || string(out) != "\n"+gh.CredentialHelper+"\n" {
			t.Fatalf("create-workspace: credential helpers %q %v", out, err)
		}
	}
	if got := ackCode(bob.call("clone-workspace", map[string]any{"repositoryId": 4242})); got != CodeGitHubAuthRequired {
		t.Fatalf("bob clone-workspace: %s", got)
	}
	if got := ackCode(alice.call("clone-workspace", map[string]any{"repositoryId": 99})); got != CodeRepositoryNotFound {
		t.Fatalf("unknown repository: %s", got)
	}

	// With it, clone-workspace runs create-workspace's flow.
	ack = alice.call("clone-workspace", map[string]any{"repositoryId": 4242})
	if ack["ok"] != true {
		t.Fatalf("clone-workspace: %v", ack)
	}
	alice.waitEvent("workspace-progress", 0, func(m map[string]any) bool { return m["step"] == "cloning" && m["name"] == "demo" })
	alice.waitEvent("workspace-progress", 0, func(m map[string]any) bool { return m["step"] == "completed" && m["progress"] == 100.0 })
	created, _ := alice.waitEvent("workspace-created", 0, func(m map[string]any) bool {
		return m["workspace"].(map[string]any)["name"] == "demo"
	})
	ws := created["workspace"].(map[string]any)
	dir, wsID := ws["localPath"].(string), ws["id"].(string)
	if ws["name"] != "demo" || ws["repoUrl"] != cloneURL {
		t.Fatalf("workspace-created %v", created)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "README")); err != nil || string(b) != "octo/demo\n" {
		t.Fatalf("checkout: %q %v", b, err)
	}
	cfg, _ := os.ReadFile(filepath.Join(dir, ".git", "config"))
	if bytes.Contains(cfg, []byte(token)) || bytes.Contains(cfg, []byte("x-access-token")) {
		t.Fatalf(".git/config holds the token:\n%s", cfg)
	}
	out, err := exec.Command("git", "-C", dir, "config", "--get-all", "credential."+f.web.URL+".helper").Output()
	if err != nil || string(out) != "\n"+gh.CredentialHelper+"\n" {
		t.Fatalf("credential helpers %q %v\n%s", out, err, cfg)
	}

	// git push from alice's shell gets the token from the helper.
	sid := alice.createTerminal(wsID)
	rc, text := shellRun(t, alice, sid, `git -c user.name=t -c user.email=t@t commit -q --allow-empty -m from-shell && GIT_TERMINAL_PROMPT=0 git push -q origin HEAD:main`)
	if rc != 0 {
		t.Fatalf("git push from alice's session: rc %d\n%s", rc, text)
	}
	head, err := exec.Command("git", "--git-dir", filepath.Join(f.gitRoot, "octo", "demo.git"), "log", "-1", "--format=%s", "main").Output()
	if err != nil || strings.TrimSpace(string(head)) != "from-shell" {
		t.Fatalf("remote head %q %v", head, err)
	}
	if strings.Contains(text, token) {
		t.Fatal("the token was printed in the terminal")
	}

	// bob's session, in alice's checkout (one OS account: he can cd there),
	// gets nothing: the helper answers for the session's user only.
	bsid := bob.createTerminal(e.bobWS.ID)
	rc, text = shellRun(t, bob, bsid, fmt.Sprintf(`cd '%s' && git -c user.name=b -c user.email=b@b commit -q --allow-empty -m from-bob && GIT_TERMINAL_PROMPT=0 git push -q origin HEAD:main`, dir))
	if rc == 0 || !strings.Contains(text, "no GitHub token") {
		t.Fatalf("git push from bob's session: rc %d\n%s", rc, text)
	}

	// At the socket: a forged id (alice's user with bob's session) and an
	// ended session's id are refused.
	ask := func(cred string) gitcred.Response {
		conn, err := net.Dial("unix", gh.CredentialSocket)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		json.NewEncoder(conn).Encode(gitcred.Request{Credential: cred, Protocol: "http", Host: strings.TrimPrefix(f.web.URL, "http://")})
		var resp gitcred.Response
		json.NewDecoder(conn).Decode(&resp)
		return resp
	}
	if r := ask(e.auth.GitCredential(e.alice.ID, sid)); r.Password != token {
		t.Fatalf("alice's live session: %+v", r.Error)
	}
	aliceCred := e.auth.GitCredential(e.alice.ID, sid)
	parts := strings.Split(aliceCred, ".")
	forged := e.alice.ID + "." + bsid + "." + parts[2]
	if r := ask(forged); r.Password != "" || r.Error == "" {
		t.Fatalf("forged id answered: %+v", r.Password != "")
	}
	if r := ask(e.auth.GitCredential(e.alice.ID, bsid)); r.Password != "" {
		t.Fatal("alice's id with bob's session was answered")
	}
	if ack := alice.call("kill-terminal", map[string]any{"sessionId": sid}); ack["ok"] != true {
		t.Fatalf("kill: %v", ack)
	}
	deadline := time.Now().Add(testTimeout)
	for {
		r := ask(aliceCred)
		if r.Password == "" && strings.Contains(r.Error, "ended") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ended session still answered: %v", r.Error)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if fi, err := os.Stat(gh.CredentialSocket); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v %v", fi.Mode(), err)
	}

	// sync-workspace push from the browser uses the token too.
	os.WriteFile(filepath.Join(dir, "B"), []byte("b\n"), 0o644)
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", "from-browser")
	if ack := alice.call("sync-workspace", map[string]any{"workspaceId": wsID, "operation": "push"}); ack["ok"] != true {
		t.Fatalf("sync push: %v", ack)
	}

	basic := base64.StdEncoding.EncodeToString([]byte("x-access-token:" + token))
	if l := logs.String(); strings.Contains(l, token) || strings.Contains(l, basic) {
		t.Fatalf("the token is in the log:\n%s", l)
	}
	if !strings.Contains(logs.String(), "git credential issued") {
		t.Fatalf("no audit line for issued credentials:\n%s", logs.String())
	}
}
