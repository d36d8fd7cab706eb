package workspaces

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
)

// newBigRepo serves a repository of about 2.5 MB of incompressible blobs at
// about 2 MB/s: a clone takes over a second, long enough for git to report
// "Receiving objects" many times.
func newBigRepo(t *testing.T, g *gitServer, name string) {
	t.Helper()
	files := map[string]string{}
	for i := range 40 {
		b := make([]byte, 64<<10)
		rand.Read(b)
		files[fmt.Sprintf("blob/%02d.bin", i)] = string(b)
	}
	g.newRepo(t, name, files)
	g.mu.Lock()
	g.rate = 2 << 20
	g.mu.Unlock()
}

// gitEnv is a Manager that clones with the git binary, recording the
// commands it starts.
type gitEnv struct {
	*env
	mu   sync.Mutex
	cmds []*exec.Cmd
	logs lockedBuffer
}

func newGitEnv(t *testing.T) *gitEnv {
	t.Helper()
	ge := &gitEnv{}
	bin := gitBin(t)
	ge.env = newEnv(t, func(c *Config) {
		c.GitBinary, c.NoGitBinary = bin, false
		c.Logger = slog.New(slog.NewTextHandler(&ge.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	ge.m.cloneStarted = func(cmd *exec.Cmd) {
		ge.mu.Lock()
		ge.cmds = append(ge.cmds, cmd)
		ge.mu.Unlock()
	}
	return ge
}

func (ge *gitEnv) started() []*exec.Cmd {
	ge.mu.Lock()
	defer ge.mu.Unlock()
	return slices.Clone(ge.cmds)
}

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

func TestCloneGitBinaryProgress(t *testing.T) {
	g := newGitServer(t)
	newBigRepo(t, g, "big")
	e := newGitEnv(t)

	var mu sync.Mutex
	var got []Progress
	start := time.Now()
	ws, err := e.m.Create(context.Background(), e.user, CreateOptions{
		Name: "big", RepoURL: g.url("big"),
		Progress: func(p Progress) {
			mu.Lock()
			got = append(got, p)
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.started()) != 1 {
		t.Fatalf("git binary started %d times, want 1", len(e.started()))
	}
	mu.Lock()
	defer mu.Unlock()
	var seq []string
	last := -1
	receiving := map[int]bool{}
	for _, p := range got {
		seq = append(seq, strconv.Itoa(p.Percent))
		if p.Percent < last || p.Percent > 100 {
			t.Fatalf("progress not monotonic within 0-100: %+v", got)
		}
		last = p.Percent
		// Strictly after counting (0-10) and before configuring (95), and
		// not a phase's final line: the bar moves during the download.
		if strings.HasPrefix(p.Message, "Receiving objects:") && p.Percent > 10 && p.Percent < 80 {
			receiving[p.Percent] = true
		}
	}
	t.Logf("progress in %v: %s", time.Since(start).Round(time.Millisecond), strings.Join(seq, " "))
	if len(receiving) < 3 {
		t.Errorf("%d distinct percentages while receiving, want at least 3: %+v", len(receiving), got)
	}
	if end := got[len(got)-1]; end != (Progress{StepCompleted, 100, "Workspace ready"}) {
		t.Errorf("last progress = %+v", end)
	}
	if !slices.Contains(got, Progress{StepConfiguring, configuringPercent, "Configuring workspace"}) {
		t.Errorf("no configuring step in %+v", got)
	}
	if ws.Branch != "main" || ws.RepoURL != g.url("big") {
		t.Errorf("workspace = %+v", ws)
	}
	if n, _ := os.ReadDir(filepath.Join(ws.LocalPath, "blob")); len(n) != 40 {
		t.Errorf("checked out %d files, want 40", len(n))
	}
	if st, err := e.m.Status(context.Background(), e.user.ID, ws.ID); err != nil || st.Branch != "main" || st.Modified+st.Untracked+st.Staged != 0 {
		t.Errorf("status after clone = %+v, %v", st, err)
	}
}

func TestCloneGitBinaryToken(t *testing.T) {
	g := newGitServer(t)
	g.newRepo(t, "tok", map[string]string{"a": "a"})
	const token = "ghs_T0pSecretT0ken"
	g.requireAuth("tok", "x-access-token", token)
	e := newGitEnv(t)
	ctx := context.Background()

	ws, err := e.m.Create(ctx, e.user, CreateOptions{
		Name: "tok", RepoURL: g.url("tok"), Auth: Auth{Token: token}, CredentialHelper: "!codeterm-test-helper",
	})
	if err != nil {
		t.Fatal(err)
	}
	cmds := e.started()
	if len(cmds) != 1 {
		t.Fatalf("git binary started %d times, want 1", len(cmds))
	}
	assertTokenOnlyInEnv(t, cmds[0], token)
	cfg := readFile(t, filepath.Join(ws.LocalPath, ".git", "config"))
	if !strings.Contains(cfg, "url = "+g.url("tok")) || !strings.Contains(cfg, "helper = !codeterm-test-helper") {
		t.Errorf(".git/config lacks the remote or the credential helper:\n%s", cfg)
	}
	filepath.WalkDir(ws.LocalPath, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(readFile(t, p), token) {
			t.Errorf("token found in %s", p)
		}
		return nil
	})
	g.mu.Lock()
	if len(g.authHeaders) == 0 || g.authHeaders[0] != "Basic eC1hY2Nlc3MtdG9rZW46Z2hzX1QwcFNlY3JldFQwa2Vu" {
		t.Errorf("Authorization = %q", g.authHeaders)
	}
	g.mu.Unlock()

	// Without the token, or with a wrong one, the clone fails without
	// prompting and leaves nothing; the error names the URL, not the token.
	for _, tc := range []struct{ name, token, url string }{
		{"none", "", g.url("tok")},
		{"wrong", "wrong-T0ken-value", g.url("tok")},
		{"wrong-in-url", "", strings.Replace(g.url("tok"), "http://", "http://x-access-token:wrong-T0ken-value@", 1)},
	} {
		done := make(chan error, 1)
		go func() {
			_, err := e.m.Create(ctx, e.user, CreateOptions{Name: "tok2", RepoURL: tc.url, Auth: Auth{Token: tc.token}})
			done <- err
		}()
		select {
		case err = <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: clone hangs (prompting?)", tc.name)
		}
		if !errors.Is(err, ErrCloneFailed) || Code(err) != "GIT_CLONE_FAILED" {
			t.Fatalf("%s: err = %v", tc.name, err)
		}
		if strings.Contains(err.Error(), "wrong-T0ken-value") || strings.Contains(err.Error(), token) {
			t.Errorf("%s: error shows the token: %v", tc.name, err)
		}
		if !strings.Contains(err.Error(), g.url("tok")) {
			t.Errorf("%s: error does not say what git said: %v", tc.name, err)
		}
		t.Logf("%s: %v", tc.name, err)
		e.assertNothingWrittenExcept(t, "tok2", "tok")
	}
	cmds = e.started()
	assertTokenOnlyInEnv(t, cmds[len(cmds)-1], "wrong-T0ken-value")
	if logs := e.logs.String(); strings.Contains(logs, token) || strings.Contains(logs, "wrong-T0ken-value") {
		t.Errorf("token in logs:\n%s", logs)
	}
}

// assertTokenOnlyInEnv checks that the started git saw the token in its
// environment (for the credential helper) and nowhere in its arguments.
func assertTokenOnlyInEnv(t *testing.T, cmd *exec.Cmd, token string) {
	t.Helper()
	for _, a := range cmd.Args {
		if strings.Contains(a, token) {
			t.Errorf("token in argv: %q", cmd.Args)
		}
	}
	if !slices.Contains(cmd.Env, clonePassEnv+"="+token) {
		t.Errorf("token not in the environment: %q", cmd.Env)
	}
}

func TestGitCloneCommand(t *testing.T) {
	t.Setenv("GIT_DIR", "/elsewhere")
	t.Setenv("GIT_CONFIG_GLOBAL", "/operator/gitconfig")
	t.Setenv("SSH_ASKPASS", "/usr/bin/ksshaskpass")
	t.Setenv("https_proxy", "http://proxy.example:3128")
	const secret = "pa55-w0rd-in-url"
	rem, err := parseRemote("https://bob:" + secret + "@git.example:8443/o/r.git")
	if err != nil {
		t.Fatal(err)
	}
	m := &Manager{}
	auth, err := m.authFor(rem, Auth{Token: "ignored-token"})
	if err != nil {
		t.Fatal(err)
	}
	cmd, err := gitCloneCommand(context.Background(), "/usr/bin/git", "/ws/.partial-r-1", "/tmp/home", rem,
		CreateOptions{Branch: "dev", Depth: 3}, auth.(*githttp.BasicAuth))
	if err != nil {
		t.Fatal(err)
	}
	argv := strings.Join(cmd.Args, " ")
	if strings.Contains(argv, secret) || strings.Contains(argv, "bob") || strings.Contains(argv, "ignored-token") {
		t.Errorf("credentials in argv: %q", cmd.Args)
	}
	want := []string{"clone", "--progress", "--no-recurse-submodules", "--branch=dev", "--depth=3", "--single-branch",
		"--", "https://git.example:8443/o/r.git", "/ws/.partial-r-1"}
	if !slices.Equal(cmd.Args[len(cmd.Args)-len(want):], want) {
		t.Errorf("args = %q, want them to end with %q", cmd.Args, want)
	}
	if !slices.Contains(cmd.Args, "credential.https://git.example:8443.helper="+cloneCredentialHelper) ||
		!slices.Contains(cmd.Args, "credential.helper=") {
		t.Errorf("credential helper not scoped to the origin: %q", cmd.Args)
	}
	env := map[string]string{}
	for _, kv := range cmd.Env {
		k, v, _ := strings.Cut(kv, "=")
		if _, dup := env[k]; dup {
			t.Errorf("%s set twice", k)
		}
		env[k] = v
	}
	for k, v := range map[string]string{
		cloneUserEnv: "bob", clonePassEnv: secret, "HOME": "/tmp/home", "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "",
		"GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C", "https_proxy": "http://proxy.example:3128",
	} {
		if got, ok := env[k]; !ok || got != v {
			t.Errorf("env %s = %q (set %v), want %q", k, got, ok, v)
		}
	}
	for _, k := range []string{"GIT_DIR", "GIT_CONFIG_GLOBAL", "SSH_ASKPASS"} {
		if _, ok := env[k]; ok {
			t.Errorf("env keeps %s", k)
		}
	}

	// No credentials: no helper, nothing in the environment.
	rem, _ = parseRemote("https://git.example/o/r.git")
	cmd, err = gitCloneCommand(context.Background(), "/usr/bin/git", "/d", "/h", rem, CreateOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.Join(cmd.Args, " "), "CODETERM") || slices.ContainsFunc(cmd.Env, func(kv string) bool {
		return strings.HasPrefix(kv, "CODETERM_CLONE_")
	}) || slices.Contains(cmd.Args, "--depth") || slices.ContainsFunc(cmd.Args, func(a string) bool { return strings.HasPrefix(a, "--branch") }) {
		t.Errorf("anonymous clone: args %q env %q", cmd.Args, cmd.Env)
	}
}

func TestCloneGitBinaryCancelMidTransfer(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("needs /proc")
	}
	g := newGitServer(t)
	newBigRepo(t, g, "big")
	e := newGitEnv(t)

	receiving := make(chan struct{})
	var once sync.Once
	errc := make(chan error, 1)
	go func() {
		_, err := e.m.Create(context.Background(), e.user, CreateOptions{
			Name: "big", RepoURL: g.url("big"),
			Progress: func(p Progress) {
				if strings.HasPrefix(p.Message, "Receiving objects:") && p.Percent > 25 {
					once.Do(func() { close(receiving) })
				}
			},
		})
		errc <- err
	}()
	select {
	case <-receiving:
	case err := <-errc:
		t.Fatalf("clone ended before receiving: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("no Receiving objects progress")
	}
	cmds := e.started()
	if len(cmds) != 1 {
		t.Fatalf("git binary started %d times", len(cmds))
	}
	pgid := cmds[0].Process.Pid
	if len(groupMembers(pgid)) == 0 {
		t.Fatal("git's process group is not running")
	}
	e.cancelClone(t, "big", errc)
	if live := groupMembers(pgid); len(live) != 0 {
		t.Errorf("git processes left running: %v", live)
	}
	e.assertNothingWritten(t, "big")
}

// groupMembers lists the live (not zombie) processes of process group pgid.
func groupMembers(pgid int) []string {
	var live []string
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		if _, err := strconv.Atoi(d.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces.
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) >= 3 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" && f[0] != "X" {
			live = append(live, d.Name()+" "+s[strings.IndexByte(s, '('):strings.LastIndexByte(s, ')')+1])
		}
	}
	return live
}

// A git binary that has gone since New resolved it: Create falls back to
// go-git rather than failing.
func TestCloneGitBinaryGoneFallsBack(t *testing.T) {
	g := newGitServer(t)
	g.newRepo(t, "r", map[string]string{"a": "a"})
	fake := filepath.Join(t.TempDir(), "git")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *Config) { c.GitBinary, c.NoGitBinary = fake, false })
	if e.m.git != fake {
		t.Fatalf("git = %q", e.m.git)
	}
	os.Remove(fake)
	ws, err := e.m.Create(context.Background(), e.user, CreateOptions{Name: "r", RepoURL: g.url("r")})
	if err != nil {
		t.Fatal(err)
	}
	if readFile(t, filepath.Join(ws.LocalPath, "a")) != "a" {
		t.Error("clone incomplete")
	}
}

// The git binary and go-git refuse the same things: an empty remote, and a
// Branch that is a tag rather than a branch.
func TestCloneEmptyRemoteAndTag(t *testing.T) { bothCloners(t, testCloneEmptyRemoteAndTag) }

func testCloneEmptyRemoteAndTag(t *testing.T, cl func(*Config)) {
	g := newGitServer(t)
	runGit(t, g.root, "init", "-q", "--bare", "-b", "main", filepath.Join(g.root, "empty.git"))
	work := g.newRepo(t, "tagged", map[string]string{"a": "a"})
	runGit(t, work, "tag", "v1")
	runGit(t, work, "push", "-q", "origin", "v1")
	e := newEnv(t, cl)
	ctx := context.Background()
	_, err := e.m.Create(ctx, e.user, CreateOptions{Name: "empty", RepoURL: g.url("empty")})
	if !errors.Is(err, ErrCloneFailed) {
		t.Errorf("empty remote: %v", err)
	}
	e.assertNothingWritten(t, "empty")
	_, err = e.m.Create(ctx, e.user, CreateOptions{Name: "tag", RepoURL: g.url("tagged"), Branch: "v1"})
	if !errors.Is(err, ErrCloneFailed) {
		t.Errorf("tag as branch: %v", err)
	}
	e.assertNothingWritten(t, "tag")
	t.Logf("errors: %v", err)
}
