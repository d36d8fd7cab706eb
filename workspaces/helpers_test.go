package workspaces

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/codeterm/codeterm/store"

	"github.com/codeterm/codeterm/internal/gittest"
)

// TestMain isolates every git the tests run (the fixtures' CLI, the CGI
// http-backend and Status's binary) from the machine's git configuration.
func TestMain(m *testing.M) {
	os.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	os.Setenv("GIT_CONFIG_GLOBAL", os.DevNull)
	os.Setenv("GIT_TERMINAL_PROMPT", "0")
	os.Exit(m.Run())
}

func gitBin(tb testing.TB) string { return gittest.Bin(tb) }

// runGit runs the git CLI in dir with a fixed identity and returns stdout.
func runGit(tb testing.TB, dir string, args ...string) string {
	tb.Helper()
	full := append([]string{"-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"}, args...)
	cmd := exec.Command(gitBin(tb), full...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			tb.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, ee.Stderr)
		}
		tb.Fatalf("git %s: %v", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out))
}

// gitServer is git's own smart-HTTP server (git http-backend through CGI)
// on 127.0.0.1, serving the bare repositories in root.
type gitServer struct {
	root string
	srv  *httptest.Server

	mu sync.Mutex
	// beforeUploadPack, if set, runs before each fetch/clone POST; tests use
	// it to hold a clone mid-transfer.
	beforeUploadPack func(w http.ResponseWriter, r *http.Request) bool
	authHeaders      []string
	// auth maps a repository name to the "user:password" every request for
	// it must carry (as HTTP basic auth, after a 401 challenge); the others
	// are public.
	auth map[string]string
	// rate, if > 0, limits fetch/clone responses to about that many bytes a
	// second, so that a clone of a few MB lasts long enough to be watched.
	rate int
}

func newGitServer(t *testing.T) *gitServer {
	t.Helper()
	g := &gitServer{root: t.TempDir()}
	backend := gittest.Backend(t, g.root)
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		hook := g.beforeUploadPack
		if a := r.Header.Get("Authorization"); a != "" {
			g.authHeaders = append(g.authHeaders, a)
		}
		repo, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), ".git/")
		want, private := g.auth[repo]
		rate := g.rate
		g.mu.Unlock()
		if private {
			if user, pass, ok := r.BasicAuth(); !ok || user+":"+pass != want {
				w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
				http.Error(w, "authentication required", http.StatusUnauthorized)
				return
			}
		}
		uploadPack := r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-upload-pack")
		if hook != nil && uploadPack {
			if !hook(w, r) {
				return
			}
		}
		if rate > 0 && uploadPack {
			w = &slowWriter{ResponseWriter: w, rate: rate}
		}
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *gitServer) setHook(h func(http.ResponseWriter, *http.Request) bool) {
	g.mu.Lock()
	g.beforeUploadPack = h
	g.mu.Unlock()
}

// requireAuth makes repository name private to user:pass.
func (g *gitServer) requireAuth(name, user, pass string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.auth == nil {
		g.auth = map[string]string{}
	}
	g.auth[name] = user + ":" + pass
}

// slowWriter sends a response in small flushed pieces at about rate bytes
// a second.
type slowWriter struct {
	http.ResponseWriter
	rate int
}

func (s *slowWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		c := min(len(p), 16<<10)
		m, err := s.ResponseWriter.Write(p[:c])
		n += m
		if err != nil {
			return n, err
		}
		if f, ok := s.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		time.Sleep(time.Duration(c) * time.Second / time.Duration(s.rate))
		p = p[c:]
	}
	return n, nil
}

func (g *gitServer) url(name string) string { return g.srv.URL + "/" + name + ".git" }

// newRepo creates the bare repository name.git with one commit holding
// files on branch main, and returns a CLI clone of it to make further
// commits from.
func (g *gitServer) newRepo(t *testing.T, name string, files map[string]string) (work string) {
	t.Helper()
	bare := filepath.Join(g.root, name+".git")
	runGit(t, g.root, "init", "--bare", "-b", "main", bare)
	runGit(t, bare, "config", "http.receivepack", "true")
	work = filepath.Join(t.TempDir(), name)
	runGit(t, filepath.Dir(work), "clone", "-q", bare, work)
	commitPush(t, work, files, "initial")
	return work
}

// commitPush writes files (an empty value deletes the file), commits and
// pushes the current branch.
func commitPush(t *testing.T, work string, files map[string]string, msg string) {
	t.Helper()
	commit(t, work, files, msg)
	runGit(t, work, "push", "-q", "origin", "HEAD")
}

func commit(t *testing.T, work string, files map[string]string, msg string) {
	t.Helper()
	writeFiles(t, work, files)
	runGit(t, work, "add", "-A")
	runGit(t, work, "commit", "-q", "-m", msg)
}

func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if content == "" {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func randomText(n int) string {
	const hex = "0123456789abcdef"
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = hex[b[i]%16]
	}
	return string(b)
}

type fakeKiller struct {
	mu      sync.Mutex
	killed  []string
	running []string
}

func (k *fakeKiller) RunningWorkspaces() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.running)
}

func (k *fakeKiller) KillWorkspace(id string) {
	k.mu.Lock()
	k.killed = append(k.killed, id)
	k.mu.Unlock()
}

type env struct {
	m      *Manager
	st     *store.Store
	user   *store.User
	killer *fakeKiller
	root   string
}

// cancelClone cancels the clone of workspace name and waits for its
// Create, running in the background, to report ErrCancelled on errc.
func (e *env) cancelClone(t *testing.T, name string, errc <-chan error) {
	t.Helper()
	if !e.m.Cancel(e.user.ID, name) {
		t.Fatal("Cancel found no clone")
	}
	select {
	case err := <-errc:
		if !errors.Is(err, ErrCancelled) || Code(err) != "CANCELLED" {
			t.Fatalf("err = %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Create did not return after Cancel")
	}
}

func newEnv(t *testing.T, tweak ...func(*Config)) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, filepath.Join(dir, "codeterm.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	u, err := st.CreateUser(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{st: st, user: u, killer: &fakeKiller{}, root: filepath.Join(dir, "workspaces")}
	// The test remotes are git http-backend on 127.0.0.1.
	cfg := Config{Root: e.root, Store: st, Sessions: e.killer, CoalesceWindow: 30 * time.Millisecond, AllowPrivateHosts: true,
		Logger: slog.New(slog.DiscardHandler)}
	// WORKSPACES_TEST_NO_GIT_BINARY=1 runs the suite on go-git alone
	// (tests that are about one or the other choose for themselves).
	cfg.NoGitBinary = os.Getenv("WORKSPACES_TEST_NO_GIT_BINARY") != ""
	for _, f := range tweak {
		f(&cfg)
	}
	e.m, err = New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.m.Close() })
	return e
}

// assertNothingWritten checks that a refused or failed Create left no
// workspace directory, no partial clone and no row.
func (e *env) assertNothingWritten(t *testing.T, name string) {
	t.Helper()
	if _, err := os.Lstat(filepath.Join(e.root, e.user.Name, name)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("workspace directory %q exists (err %v)", name, err)
	}
	entries, _ := os.ReadDir(filepath.Join(e.root, e.user.Name))
	for _, en := range entries {
		t.Errorf("left behind in user dir: %s", en.Name())
	}
	if _, err := e.st.WorkspaceByName(context.Background(), e.user.ID, name); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("store row for %q: err = %v, want not found", name, err)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// assertNothingWrittenExcept is assertNothingWritten for a user directory
// that legitimately holds other workspaces.
func (e *env) assertNothingWrittenExcept(t *testing.T, name string, others ...string) {
	t.Helper()
	if _, err := os.Lstat(filepath.Join(e.root, e.user.Name, name)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("workspace directory %q exists (err %v)", name, err)
	}
	entries, _ := os.ReadDir(filepath.Join(e.root, e.user.Name))
	if len(entries) != len(others) {
		t.Errorf("user dir holds %v, want only %v", entries, others)
	}
	if _, err := e.st.WorkspaceByName(context.Background(), e.user.ID, name); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("store row for %q: err = %v", name, err)
	}
}
