package workspaces

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
)

func TestCreateEmpty(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var steps []Progress
	ws, err := e.m.Create(ctx, e.user, CreateOptions{Name: "scratch", Progress: func(p Progress) { steps = append(steps, p) }})
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(e.root, "alice", "scratch")
	if ws.LocalPath != want || ws.Branch != "main" || ws.RepoURL != "" {
		t.Fatalf("workspace = %+v", ws)
	}
	if head := runGit(t, want, "symbolic-ref", "HEAD"); head != "refs/heads/main" {
		t.Fatalf("HEAD = %s", head)
	}
	if len(steps) == 0 || steps[len(steps)-1] != (Progress{StepCompleted, 100, "Workspace ready"}) {
		t.Fatalf("progress = %+v", steps)
	}
	st, err := e.m.Status(ctx, e.user.ID, ws.ID)
	if err != nil || st != (GitStatus{Branch: "main"}) {
		t.Fatalf("status = %+v, %v", st, err)
	}
	got, err := e.m.GetByName(ctx, e.user.ID, "scratch")
	if err != nil || got.ID != ws.ID {
		t.Fatalf("GetByName = %+v, %v", got, err)
	}
}

func TestCloneProgress(t *testing.T) { bothCloners(t, testCloneProgress) }

func testCloneProgress(t *testing.T, cl func(*Config)) {
	g := newGitServer(t)
	files := map[string]string{}
	for i := range 300 {
		files[fmt.Sprintf("data/%03d.txt", i)] = randomText(4096)
	}
	g.newRepo(t, "big", files)
	e := newEnv(t, cl)

	var mu sync.Mutex
	var got []Progress
	ws, err := e.m.Create(context.Background(), e.user, CreateOptions{
		Name:    "big",
		RepoURL: g.url("big"),
		Progress: func(p Progress) {
			mu.Lock()
			got = append(got, p)
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	last, fromGit := -1, 0
	for _, p := range got {
		if p.Percent < last || p.Percent > 100 {
			t.Fatalf("progress not monotonic within 0-100: %+v", got)
		}
		last = p.Percent
		if strings.Contains(p.Message, "objects:") {
			fromGit++
		}
	}
	if fromGit == 0 {
		t.Errorf("no progress parsed from git's sideband: %+v", got)
	}
	if end := got[len(got)-1]; end.Step != StepCompleted || end.Percent != 100 {
		t.Errorf("last progress = %+v", end)
	}
	n := 0
	filepath.WalkDir(filepath.Join(ws.LocalPath, "data"), func(_ string, d fs.DirEntry, _ error) error {
		if !d.IsDir() {
			n++
		}
		return nil
	})
	if n != 300 {
		t.Errorf("checked out %d files, want 300", n)
	}
	if ws.RepoURL != g.url("big") || ws.Branch != "main" {
		t.Errorf("workspace = %+v", ws)
	}
}

func TestCloneBranchAndDepth(t *testing.T) { bothCloners(t, testCloneBranchAndDepth) }

func testCloneBranchAndDepth(t *testing.T, cl func(*Config)) {
	g := newGitServer(t)
	work := g.newRepo(t, "r", map[string]string{"a.txt": "1"})
	commitPush(t, work, map[string]string{"a.txt": "2"}, "second")
	commitPush(t, work, map[string]string{"a.txt": "3"}, "third")
	runGit(t, work, "checkout", "-q", "-b", "dev")
	commitPush(t, work, map[string]string{"dev.txt": "dev"}, "on dev")
	e := newEnv(t, cl)
	ctx := context.Background()

	ws, err := e.m.Create(ctx, e.user, CreateOptions{Name: "dev", RepoURL: g.url("r"), Branch: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	if ws.Branch != "dev" || readFile(t, filepath.Join(ws.LocalPath, "dev.txt")) != "dev" {
		t.Errorf("branch clone: %+v", ws)
	}
	if head := runGit(t, ws.LocalPath, "symbolic-ref", "--short", "HEAD"); head != "dev" || CurrentBranch(ws.LocalPath) != "dev" {
		t.Errorf("HEAD = %s, CurrentBranch = %q", head, CurrentBranch(ws.LocalPath))
	}
	if b := CurrentBranch(t.TempDir()); b != "" {
		t.Errorf("CurrentBranch(not a repo) = %q", b)
	}

	ws, err = e.m.Create(ctx, e.user, CreateOptions{Name: "shallow", RepoURL: g.url("r"), Depth: 1})
	if err != nil {
		t.Fatal(err)
	}
	if n := runGit(t, ws.LocalPath, "rev-list", "--count", "HEAD"); n != "1" {
		t.Errorf("shallow clone has %s commits, want 1", n)
	}
	if _, err := os.Stat(filepath.Join(ws.LocalPath, ".git", "shallow")); err != nil {
		t.Errorf("no .git/shallow: %v", err)
	}
	if readFile(t, filepath.Join(ws.LocalPath, "a.txt")) != "3" {
		t.Error("shallow clone is not at the tip")
	}

	_, err = e.m.Create(ctx, e.user, CreateOptions{Name: "nobranch", RepoURL: g.url("r"), Branch: "missing"})
	if !errors.Is(err, ErrCloneFailed) {
		t.Fatalf("missing branch: %v", err)
	}
	e.assertNothingWrittenExcept(t, "nobranch", "dev", "shallow")
}

func TestCreateRefused(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, name := range []string{"", "..", ".x", "a/b", "a..b", "x y"} {
		_, err := e.m.Create(ctx, e.user, CreateOptions{Name: name})
		if !errors.Is(err, ErrInvalidName) || Code(err) != "INVALID_NAME" {
			t.Errorf("name %q: %v", name, err)
		}
	}
	marker := filepath.Join(t.TempDir(), "pwned")
	for _, u := range []string{
		"file:///etc", "/local/path", "ext::sh -c touch% " + marker, "ftp://host/r.git",
		"git://host/r.git", "../other",
	} {
		_, err := e.m.Create(ctx, e.user, CreateOptions{Name: "bad", RepoURL: u})
		if !errors.Is(err, ErrInvalidURL) || Code(err) != "INVALID_URL" {
			t.Errorf("url %q: %v", u, err)
		}
		e.assertNothingWritten(t, "bad")
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("ext:: command ran")
	}
	if ws, _ := e.m.List(ctx, e.user.ID); len(ws) != 0 {
		t.Fatalf("rows: %+v", ws)
	}
}

func TestCreateExists(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.m.Create(ctx, e.user, CreateOptions{Name: "one"}); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(e.root, "alice", "one", "keep")
	writeFiles(t, filepath.Dir(marker), map[string]string{"keep": "x"})
	_, err := e.m.Create(ctx, e.user, CreateOptions{Name: "one"})
	if !errors.Is(err, ErrExists) || Code(err) != "WORKSPACE_EXISTS" {
		t.Fatalf("second create: %v", err)
	}
	if readFile(t, marker) != "x" {
		t.Fatal("existing workspace touched")
	}
	// A directory without a row (someone else's mess) is not overwritten either.
	os.MkdirAll(filepath.Join(e.root, "alice", "orphan"), 0o755)
	if _, err := e.m.Create(ctx, e.user, CreateOptions{Name: "orphan"}); !errors.Is(err, ErrExists) {
		t.Fatalf("orphan dir: %v", err)
	}
}

func TestCloneCredentialsStripped(t *testing.T) { bothCloners(t, testCloneCredentialsStripped) }

func testCloneCredentialsStripped(t *testing.T, cl func(*Config)) {
	g := newGitServer(t)
	g.newRepo(t, "priv", map[string]string{"a": "a"})
	e := newEnv(t, cl)
	const secret = "s3cr3t-tok3n"
	g.requireAuth("priv", "bob", secret)
	u := strings.Replace(g.url("priv"), "http://", "http://bob:"+secret+"@", 1)
	ws, err := e.m.Create(context.Background(), e.user, CreateOptions{Name: "priv", RepoURL: u})
	if err != nil {
		t.Fatal(err)
	}
	if ws.RepoURL != g.url("priv") {
		t.Errorf("returned RepoURL = %q", ws.RepoURL)
	}
	row, err := e.st.Workspace(context.Background(), e.user.ID, ws.ID)
	if err != nil || strings.Contains(row.RepoURL, secret) || strings.Contains(row.RepoURL, "bob") {
		t.Errorf("stored RepoURL = %q (%v)", row.RepoURL, err)
	}
	if cfg := readFile(t, filepath.Join(ws.LocalPath, ".git", "config")); strings.Contains(cfg, secret) || !strings.Contains(cfg, g.url("priv")) {
		t.Errorf(".git/config:\n%s", cfg)
	}
	filepath.WalkDir(filepath.Join(ws.LocalPath, ".git"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(readFile(t, p), secret) {
			t.Errorf("secret found in %s", p)
		}
		return nil
	})
	// The credentials were still used for the clone itself.
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.authHeaders) == 0 {
		t.Error("clone sent no Authorization header")
	}
}

func TestCloneTokenAuth(t *testing.T) { bothCloners(t, testCloneTokenAuth) }

func testCloneTokenAuth(t *testing.T, cl func(*Config)) {
	g := newGitServer(t)
	g.newRepo(t, "tok", map[string]string{"a": "a"})
	g.requireAuth("tok", "x-access-token", "abc")
	e := newEnv(t, cl)
	_, err := e.m.Create(context.Background(), e.user, CreateOptions{Name: "tok", RepoURL: g.url("tok"), Auth: Auth{Token: "abc"}})
	if err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	// base64("x-access-token:abc")
	if len(g.authHeaders) == 0 || g.authHeaders[0] != "Basic eC1hY2Nlc3MtdG9rZW46YWJj" {
		t.Errorf("Authorization = %q", g.authHeaders)
	}
}

func TestCloneNotFoundLeavesNothing(t *testing.T) { bothCloners(t, testCloneNotFoundLeavesNothing) }

func testCloneNotFoundLeavesNothing(t *testing.T, cl func(*Config)) {
	g := newGitServer(t)
	e := newEnv(t, cl)
	_, err := e.m.Create(context.Background(), e.user, CreateOptions{Name: "gone", RepoURL: g.url("nope")})
	if !errors.Is(err, ErrCloneFailed) || Code(err) != "GIT_CLONE_FAILED" {
		t.Fatalf("err = %v", err)
	}
	e.assertNothingWritten(t, "gone")
}

func TestCloneSSHWithoutKeyRefused(t *testing.T) {
	e := newEnv(t)
	_, err := e.m.Create(context.Background(), e.user, CreateOptions{Name: "s", RepoURL: "git@127.0.0.1:o/r.git"})
	if !errors.Is(err, ErrCloneFailed) || !strings.Contains(err.Error(), "SSH key") {
		t.Fatalf("err = %v", err)
	}
	e.assertNothingWritten(t, "s")
}

func TestCloneCancelLeavesNothing(t *testing.T) { bothCloners(t, testCloneCancelLeavesNothing) }

func testCloneCancelLeavesNothing(t *testing.T, cl func(*Config)) {
	g := newGitServer(t)
	g.newRepo(t, "slow", map[string]string{"a": "a"})
	e := newEnv(t, cl)
	held := make(chan struct{})
	var once sync.Once
	// Hold the pack request until the client gives up: the clone is
	// certainly in flight, with a temporary directory on disk, when we cancel.
	g.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		once.Do(func() { close(held) })
		holdUntilGone(t, r)
		return false
	})
	errc := make(chan error, 1)
	go func() {
		_, err := e.m.Create(context.Background(), e.user, CreateOptions{Name: "slow", RepoURL: g.url("slow")})
		errc <- err
	}()
	select {
	case <-held:
	case <-time.After(30 * time.Second):
		t.Fatal("clone never reached the server")
	}
	entries, _ := os.ReadDir(filepath.Join(e.root, "alice"))
	if len(entries) != 1 || !strings.HasPrefix(entries[0].Name(), partialPrefix) {
		t.Errorf("during clone: %v, want one partial dir", entries)
	}
	e.cancelClone(t, "slow", errc)
	e.assertNothingWritten(t, "slow")
	if e.m.Cancel(e.user.ID, "slow") {
		t.Error("Cancel after the end reported a clone")
	}
}

func TestCloneContextCancel(t *testing.T) { bothCloners(t, testCloneContextCancel) }

func testCloneContextCancel(t *testing.T, cl func(*Config)) {
	g := newGitServer(t)
	g.newRepo(t, "slow", map[string]string{"a": "a"})
	e := newEnv(t, cl)
	ctx, cancel := context.WithCancel(context.Background())
	g.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		cancel()
		holdUntilGone(t, r)
		return false
	})
	_, err := e.m.Create(ctx, e.user, CreateOptions{Name: "slow", RepoURL: g.url("slow")})
	if !errors.Is(err, ErrCancelled) {
		t.Fatalf("err = %v", err)
	}
	e.assertNothingWritten(t, "slow")
}

func TestDelete(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ws, err := e.m.Create(ctx, e.user, CreateOptions{Name: "doomed"})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := e.m.Watch(ctx, e.user.ID, ws.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.m.Delete(ctx, "someone-else", ws.ID); !errors.Is(err, ErrNotFound) || Code(err) != "WORKSPACE_NOT_FOUND" {
		t.Fatalf("delete by another user: %v", err)
	}
	if err := e.m.Delete(ctx, e.user.ID, ws.ID); err != nil {
		t.Fatal(err)
	}
	e.killer.mu.Lock()
	if len(e.killer.killed) != 1 || e.killer.killed[0] != ws.ID {
		t.Errorf("killed = %v", e.killer.killed)
	}
	e.killer.mu.Unlock()
	e.assertNothingWritten(t, "doomed")
	select {
	case _, ok := <-sub.Events():
		if ok {
			t.Error("event after delete")
		}
	case <-time.After(10 * time.Second):
		t.Error("subscription not closed by delete")
	}
	sub.Close() // harmless after the fact
	if err := e.m.Delete(ctx, e.user.ID, ws.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

// TestPruneSessions: a workspace deleted by another process (the CLI) has
// its sessions ended by the server; live workspaces keep theirs.
func TestPruneSessions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	gone, err := e.m.Create(ctx, e.user, CreateOptions{Name: "gone"})
	if err != nil {
		t.Fatal(err)
	}
	kept, err := e.m.Create(ctx, e.user, CreateOptions{Name: "kept"})
	if err != nil {
		t.Fatal(err)
	}
	e.killer.mu.Lock()
	e.killer.running = []string{gone.ID, kept.ID}
	e.killer.mu.Unlock()
	if err := e.m.PruneSessions(ctx); err != nil {
		t.Fatal(err)
	}
	if len(e.killer.killed) != 0 {
		t.Fatalf("killed %v while both exist", e.killer.killed)
	}
	if err := e.st.DeleteWorkspace(ctx, e.user.ID, gone.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.m.PruneSessions(ctx); err != nil {
		t.Fatal(err)
	}
	e.killer.mu.Lock()
	defer e.killer.mu.Unlock()
	if !slices.Equal(e.killer.killed, []string{gone.ID}) {
		t.Fatalf("killed %v, want %v", e.killer.killed, []string{gone.ID})
	}
}

func TestSweepRestoresInterruptedDelete(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ws, err := e.m.Create(ctx, e.user, CreateOptions{Name: "w"})
	if err != nil {
		t.Fatal(err)
	}
	// A crash after the rename aside but before the row went.
	trash := filepath.Join(filepath.Dir(ws.LocalPath), deletingPrefix+ws.ID)
	if err := os.Rename(ws.LocalPath, trash); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(filepath.Dir(ws.LocalPath), deletingPrefix+"no-such-id")
	os.MkdirAll(garbage, 0o755)
	if _, err := New(ctx, Config{Root: e.root, Store: e.st}); err != nil {
		t.Fatal(err)
	}
	if _, err := git.PlainOpen(ws.LocalPath); err != nil {
		t.Errorf("workspace not restored: %v", err)
	}
	if _, err := os.Stat(garbage); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("garbage not removed: %v", err)
	}
}

// bothCloners runs test with the git binary (skipped if git is not
// installed) and with go-git, the fallback.
func bothCloners(t *testing.T, test func(t *testing.T, cl func(*Config))) {
	t.Run("git", func(t *testing.T) {
		bin := gitBin(t)
		test(t, func(c *Config) { c.GitBinary, c.NoGitBinary = bin, false })
	})
	t.Run("go-git", func(t *testing.T) {
		test(t, func(c *Config) { c.NoGitBinary = true })
	})
}

// holdUntilGone blocks a request until its client disconnects. The body is
// read first because net/http only notices a closed connection once the
// handler has consumed the request body.
func holdUntilGone(t *testing.T, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	select {
	case <-r.Context().Done():
	case <-time.After(time.Minute):
		t.Error("client never hung up")
	}
}
