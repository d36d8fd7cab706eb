package ports

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/codeterm/codeterm/isolation"
	"github.com/codeterm/codeterm/sessions"
)

// shell starts a sh session for user in workspace and types cmd into it.
func shell(t *testing.T, m *sessions.Manager, user, workspace, cmd string) *sessions.Session {
	t.Helper()
	return shellAs(t, m, nil, user, workspace, cmd)
}

// shellAs is shell with the shell running as an OS account (nil: ours).
func shellAs(t *testing.T, m *sessions.Manager, acct *isolation.Account, user, workspace, cmd string) *sessions.Session {
	t.Helper()
	opts := sessions.SpawnOptions{UserID: user, WorkspaceID: workspace, Dir: t.TempDir(), Shell: "sh", Account: acct}
	if acct != nil {
		opts.Dir, opts.Home, opts.User = "/", "/", acct.Name
	}
	s, err := m.Create(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.Attach(sessions.AttachOptions{Cols: 80, Rows: 24})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	if _, err := a.Write([]byte(cmd + "\n")); err != nil {
		t.Fatal(err)
	}
	return s
}

func newManager(t *testing.T) *sessions.Manager {
	m := sessions.NewManager(sessions.Config{KillGrace: time.Second}, nil, nil)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		m.Shutdown(ctx)
	})
	return m
}

// waitPorts polls until cond holds for the workspace's ports.
func waitPorts(t *testing.T, f *Finder, user, workspace string, cond func([]Port) bool) []Port {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ps, err := f.Ports(user, workspace)
		if err != nil {
			t.Fatal(err)
		}
		if cond(ps) {
			return ps
		}
		if time.Now().After(deadline) {
			t.Fatalf("ports of %s/%s: %+v", user, workspace, ps)
		}
		time.Sleep(20 * time.Millisecond) // polling /proc: nothing to wait on
	}
}

func TestListenerStartedByShell(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 missing")
	}
	m := newManager(t)
	// A listener of the test process itself belongs to no session.
	own, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	ownPort := own.Addr().(*net.TCPAddr).Port

	shell(t, m, "alice", "ws1", "exec python3 -m http.server 0 --bind 127.0.0.1")
	shell(t, m, "bob", "ws1", "python3 -m http.server 0 --bind ::1 & wait")
	f := &Finder{Sessions: m, MaxAge: time.Nanosecond}

	alice := waitPorts(t, f, "alice", "ws1", func(ps []Port) bool { return len(ps) > 0 })
	bob := waitPorts(t, f, "bob", "ws1", func(ps []Port) bool { return len(ps) > 0 })
	if len(alice) != 1 || alice[0].Address != "127.0.0.1" || !strings.HasPrefix(alice[0].Process, "python") || alice[0].PID == 0 {
		t.Fatalf("alice's ports: %+v", alice)
	}
	if len(bob) != 1 || bob[0].Address != "::1" || bob[0].Port == alice[0].Port {
		t.Fatalf("bob's ports: %+v", bob)
	}
	for _, p := range append(alice, bob...) {
		if p.Port == ownPort {
			t.Fatalf("the test's own listener %d reported: %+v", ownPort, p)
		}
	}
	// The port is the real listener: it answers on the loopback address.
	addr, ok := alice[0].Loopback()
	if !ok {
		t.Fatalf("no loopback address for %+v", alice[0])
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, ok := f.Lookup("alice", "ws1", bob[0].Port); ok {
		t.Fatal("alice's Lookup finds bob's port")
	}
	if ps, _ := f.Ports("alice", "other"); len(ps) != 0 {
		t.Fatalf("a workspace without sessions has ports: %+v", ps)
	}
}

// With per-user OS accounts the shells run as the user's account; the
// server, root, still reads their processes' sockets.
func TestListenerOfAnotherAccount(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to start a shell as another account")
	}
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 missing")
	}
	m := newManager(t)
	nobody := &isolation.Account{Name: "nobody", UID: 65534, GID: 65534, Home: "/"}
	shellAs(t, m, nobody, "alice", "ws1", "exec python3 -m http.server 0 --bind 127.0.0.1")
	f := &Finder{Sessions: m, MaxAge: time.Nanosecond}
	ps := waitPorts(t, f, "alice", "ws1", func(ps []Port) bool { return len(ps) > 0 })
	if uid := procUID(t, ps[0].PID); uid != "65534" {
		t.Fatalf("the listener runs as uid %s, not the account's", uid)
	}
}

func procUID(t *testing.T, pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "Uid:"); ok {
			return strings.Fields(rest)[0]
		}
	}
	return ""
}

func TestParseHexIP(t *testing.T) {
	for in, want := range map[string]string{
		"0100007F":                         "127.0.0.1",
		"00000000":                         "0.0.0.0",
		"00000000000000000000000000000000": "::",
		"00000000000000000000000001000000": "::1",
		"0000000000000000FFFF00000100007F": "127.0.0.1",
	} {
		ip, err := parseHexIP(in)
		if err != nil || ip.String() != want {
			t.Errorf("parseHexIP(%s) = %v, %v; want %s", in, ip, err, want)
		}
	}
}

func TestLoopback(t *testing.T) {
	for _, tc := range []struct {
		addr, want string
		ok         bool
	}{
		{"0.0.0.0", "127.0.0.1:80", true},
		{"127.0.0.2", "127.0.0.2:80", true},
		{"::", "[::1]:80", true},
		{"::1", "[::1]:80", true},
		{"10.1.2.3", "", false},
	} {
		got, ok := Port{Port: 80, Address: tc.addr}.Loopback()
		if got != tc.want || ok != tc.ok {
			t.Errorf("Loopback(%s) = %q, %v", tc.addr, got, ok)
		}
	}
}

func TestProbe(t *testing.T) {
	serve := func(banner string) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Write([]byte(banner))
				go func() { io.Copy(io.Discard, c); c.Close() }()
			}
		}()
		return ln.Addr().String()
	}
	if got := probe(serve("RFB 003.008\n")); got != "rfb" {
		t.Errorf("a VNC server probed as %q", got)
	}
	if got := probe(serve("")); got != "" {
		t.Errorf("a silent server probed as %q", got)
	}
	if got := probe(serve("SSH-2.0-OpenSSH_9\r\n")); got != "" {
		t.Errorf("an SSH server probed as %q", got)
	}
}

// A VNC server whose loop has not yet run when it is first probed (the
// kernel accepted for it, no banner came in time) is still found to be one
// when it is probed again; a listener that never speaks is let alone after
// a few tries.
func TestProbeAgainWhenSilent(t *testing.T) {
	listen := func(banner func(n int) string) (Port, *atomic.Int32) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		var conns atomic.Int32
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Write([]byte(banner(int(conns.Add(1)))))
				go func() { io.Copy(io.Discard, c); c.Close() }()
			}
		}()
		return Port{Port: ln.Addr().(*net.TCPAddr).Port, Address: "127.0.0.1", PID: os.Getpid()}, &conns
	}
	due := func(f *Finder, p Port) { // as if the retry time had come
		f.mu.Lock()
		defer f.mu.Unlock()
		k := probeKey{p.PID, p.Port}
		v := f.probes[k]
		v.next = time.Now().Add(-time.Millisecond)
		f.probes[k] = v
	}

	var f Finder
	slow, conns := listen(func(n int) string {
		if n == 1 {
			return "" // not ready: the first probe hears nothing
		}
		return "RFB 003.008\n"
	})
	if got := f.protocol(slow); got != "" {
		t.Fatalf("first probe of a silent listener: %q", got)
	}
	if got := f.protocol(slow); got != "" || conns.Load() != 1 {
		t.Fatalf("probed again before its time: %q after %d connections", got, conns.Load())
	}
	due(&f, slow)
	if got := f.protocol(slow); got != "rfb" {
		t.Fatalf("a VNC server that was slow to greet probed as %q on the second try", got)
	}
	due(&f, slow)
	if got := f.protocol(slow); got != "rfb" || conns.Load() != 2 {
		t.Fatalf("a known VNC server is probed again: %q after %d connections", got, conns.Load())
	}

	silent, sconns := listen(func(int) string { return "" })
	for range probeTries + 3 {
		due(&f, silent)
		if got := f.protocol(silent); got != "" {
			t.Fatalf("a silent server probed as %q", got)
		}
	}
	if n := sconns.Load(); n != probeTries {
		t.Fatalf("a silent server was probed %d times, want %d", n, probeTries)
	}
}
