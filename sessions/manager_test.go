package sessions

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strings"
	"sync"
	"testing"

	"github.com/codeterm/codeterm/isolation"
	"github.com/codeterm/codeterm/store"
)

func TestLimits(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, Config{MaxPerUser: 3, MaxPerWorkspace: 2, MaxInputBytes: 100})
	ctx := context.Background()
	e.create(0)
	s := e.create(0)
	if _, err := e.m.Create(ctx, e.opts(0)); !errors.Is(err, ErrLimitExceeded) {
		t.Fatalf("third in a workspace of 2: %v", err)
	}
	e.create(1)
	if _, err := e.m.Create(ctx, e.opts(1)); !errors.Is(err, ErrLimitExceeded) {
		t.Fatalf("fourth for a user of 3: %v", err)
	}
	a := attach(t, s, AttachOptions{LastSeq: -1})
	if _, err := a.Write(make([]byte, 101)); !errors.Is(err, ErrInputTooLarge) {
		t.Fatalf("101-byte input: %v", err)
	}
	if _, err := a.Write(make([]byte, 100)); err != nil {
		t.Fatalf("100-byte input: %v", err)
	}
	if _, err := s.Attach(AttachOptions{Cols: 1001, Rows: 10}); !errors.Is(err, ErrInvalidSize) {
		t.Fatalf("attach 1001 cols: %v", err)
	}
	o := e.opts(0)
	o.Cols = 0
	o.Rows = 5
	if _, err := e.m.Create(ctx, o); !errors.Is(err, ErrInvalidSize) {
		t.Fatalf("create 0x5: %v", err)
	}
	// A slot frees when a session ends.
	s.Kill()
	waitDone(t, s)
	e.create(0)
}

func TestSpawnErrors(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, Config{})
	ctx := context.Background()
	for _, sh := range []string{"python3", "/bin/false", "../bash", "nosuchshell"} {
		o := e.opts(0)
		o.Shell = sh
		_, err := e.m.Create(ctx, o)
		if !errors.Is(err, ErrSpawn) || !errors.Is(err, ErrShellNotAllowed) {
			t.Errorf("shell %q: %v", sh, err)
		}
	}
	o := e.opts(0)
	o.Dir = "/nonexistent/dir"
	if _, err := e.m.Create(ctx, o); !errors.Is(err, ErrSpawn) {
		t.Errorf("missing dir: %v", err)
	}
	o = e.opts(0)
	o.WorkspaceID = "not-in-the-store"
	if _, err := e.m.Create(ctx, o); !errors.Is(err, ErrSpawn) {
		t.Errorf("unknown workspace: %v", err)
	}
	if n := len(e.m.List(e.user.ID, "")); n != 0 {
		t.Errorf("%d sessions left after failed spawns", n)
	}
	o = e.opts(0)
	o.Shell = ""
	s, err := e.m.Create(ctx, o)
	if err != nil {
		t.Fatalf("default shell: %v", err)
	}
	if sh := s.Info().Shell; sh == "" {
		t.Error("no shell recorded")
	}
}

func TestGetLookupList(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, Config{})
	ids := []string{"abc111", "abd222", "xyz333"}
	var mu sync.Mutex
	e.m.newID = func() string {
		mu.Lock()
		defer mu.Unlock()
		id := ids[0]
		ids = ids[1:]
		return id
	}
	s1, s2 := e.create(0), e.create(0)
	o := e.opts(1)
	o.Name = "build"
	s3, err := e.m.Create(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	u, w0, w1 := e.user.ID, e.ws[0].ID, e.ws[1].ID
	if got, err := e.m.Get(u, "abc111"); err != nil || got != s1 {
		t.Fatalf("Get: %v %v", got, err)
	}
	if _, err := e.m.Get(e.other.ID, "abc111"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another user's Get: %v", err)
	}
	if _, err := e.m.Get(u, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing Get: %v", err)
	}
	for _, tc := range []struct {
		ws, q string
		want  *Session
		err   error
	}{
		{"", "abd", s2, nil},
		{"", "abd222", s2, nil},
		{"", "ab", nil, ErrAmbiguous},
		{w0, "x", nil, ErrNotFound},
		{w1, "x", s3, nil},
		{"", "build", s3, nil},
		{"", "", nil, ErrNotFound},
	} {
		got, err := e.m.Lookup(u, tc.ws, tc.q)
		if got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("Lookup(%q, %q) = %v, %v", tc.ws, tc.q, got, err)
		}
	}
	if _, err := e.m.Lookup(e.other.ID, "", "abc"); !errors.Is(err, ErrNotFound) {
		t.Errorf("another user's Lookup: %v", err)
	}
	if l := e.m.List(u, ""); len(l) != 3 || l[0] != s1 || l[1] != s2 || l[2] != s3 {
		t.Errorf("List all: %v", l)
	}
	if l := e.m.List(u, w0); len(l) != 2 {
		t.Errorf("List w0: %v", l)
	}
	if l := e.m.List(e.other.ID, ""); len(l) != 0 {
		t.Errorf("another user's List: %v", l)
	}
	if err := s3.Rename(context.Background(), "renamed"); err != nil {
		t.Fatal(err)
	}
	rec, err := e.st.Session(context.Background(), s3.ID())
	if err != nil || rec.Name != "renamed" || rec.Status != store.SessionActive || rec.PID != s3.Info().PID || rec.PID == 0 {
		t.Fatalf("stored %+v %v", rec, err)
	}
	e.m.KillWorkspace(w0)
	waitDone(t, s1)
	waitDone(t, s2)
	if l := e.m.List(u, ""); len(l) != 1 || l[0] != s3 {
		t.Errorf("after KillWorkspace: %v", l)
	}
}

func TestPrimary(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, Config{})
	var wg sync.WaitGroup
	got := make([]*Session, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := e.m.Primary(context.Background(), e.opts(0))
			if err != nil {
				t.Error(err)
			}
			got[i] = s
		}()
	}
	wg.Wait()
	for _, s := range got {
		if s != got[0] {
			t.Fatal("concurrent Primary calls got different sessions")
		}
	}
	later := e.create(0)
	if p, _ := e.m.Primary(context.Background(), e.opts(0)); p != got[0] {
		t.Fatal("Primary is not the oldest")
	}
	got[0].Kill()
	waitDone(t, got[0])
	if p, _ := e.m.Primary(context.Background(), e.opts(0)); p != later {
		t.Fatal("Primary after the oldest ended")
	}
}

func TestShutdown(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, Config{})
	s := e.create(0)
	if err := e.m.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("Shutdown returned before the session ended")
	}
	if _, err := e.m.Create(context.Background(), e.opts(0)); !errors.Is(err, ErrClosed) {
		t.Fatalf("create after shutdown: %v", err)
	}
	rec, _ := e.st.Session(context.Background(), s.ID())
	if rec.Status != store.SessionTerminated {
		t.Fatalf("stored status %q", rec.Status)
	}
}

func TestEnviron(t *testing.T) {
	t.Setenv("CODETERM_JWT_SECRET", "x")
	t.Setenv("GITHUB_TOKEN", "x")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "x")
	t.Setenv("PATH", "/usr/bin:/bin")
	t.Setenv("LC_ALL", "C.UTF-8")
	t.Setenv("TERM", "from-the-server")
	env := Environ(SpawnOptions{Home: "/h", User: "u", Env: []string{"LANG=fr_FR.UTF-8", "TERM=dumb", "LC_CTYPE=C", "GITHUB_TOKEN=y", "BAD", "GIT_PROTOCOL=version=2"}}, "/bin/bash")
	got := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if _, dup := got[k]; dup {
			t.Errorf("%s twice", k)
		}
		got[k] = v
	}
	want := map[string]string{
		"HOME": "/h", "USER": "u", "LOGNAME": "u", "SHELL": "/bin/bash", "PATH": "/usr/bin:/bin",
		"LANG": "fr_FR.UTF-8", "LC_ALL": "C.UTF-8", "LC_CTYPE": "C", "TERM": "dumb", "GIT_PROTOCOL": "version=2",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s=%q, want %q", k, got[k], v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok && k != "TZ" && !strings.HasPrefix(k, "LC_") {
			t.Errorf("unexpected %s", k)
		}
	}
	// No TERM from the client: the web page's xterm.js. No USER anywhere:
	// the OS account's name.
	t.Setenv("USER", "")
	t.Setenv("LOGNAME", "")
	os.Unsetenv("USER")
	os.Unsetenv("LOGNAME")
	got = map[string]string{}
	for _, kv := range Environ(SpawnOptions{}, "") {
		k, v, _ := strings.Cut(kv, "=")
		got[k] = v
	}
	me, _ := user.Current()
	if got["TERM"] != "xterm-256color" || got["COLORTERM"] != "truecolor" || got["USER"] != me.Username || got["LOGNAME"] != me.Username {
		t.Errorf("defaults: %v", got)
	}
	if fmt.Sprint(historyEnv("fish", "/x", "a/b.c")) != "[fish_history=codeterm_a_b_c]" {
		t.Error(historyEnv("fish", "/x", "a/b.c"))
	}
}

// TestEnvironAccount: a shell of an OS account gets that account's HOME and
// name, never the server's.
func TestEnvironAccount(t *testing.T) {
	t.Setenv("HOME", "/root")
	t.Setenv("USER", "root")
	t.Setenv("PATH", "/root/go/bin:/usr/bin")
	acct := &isolation.Account{Name: "ct-alice", UID: 1234, GID: 1234, Home: "/data/homes/alice"}
	env := strings.Join(Environ(SpawnOptions{Account: acct}, "/bin/bash"), "\n")
	for _, want := range []string{"HOME=/data/homes/alice", "USER=ct-alice", "LOGNAME=ct-alice", "PATH=" + defaultPath} {
		if !strings.Contains(env, want+"\n") {
			t.Errorf("no %s in\n%s", want, env)
		}
	}
	if strings.Contains(env, "/root") {
		t.Errorf("the server's HOME reached the account's shell:\n%s", env)
	}
}
