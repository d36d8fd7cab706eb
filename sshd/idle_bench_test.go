package sshd

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"net"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/codeterm/codeterm/internal/idletest"
	"github.com/codeterm/codeterm/sessions"
)

// BenchmarkIdleSSHHeap reports what the server keeps per idle SSH client
// attached to a terminal session, apart from the session itself: 100
// sessions (120x40) are started and left to go quiet first, then a client
// process (this test binary again) attaches one x/crypto/ssh client with a
// PTY to each, reads the repaint and goes idle. The figures are this
// process's differences: Go heap, goroutine stacks and goroutines per
// client, the heap split by the library that allocated it (the innermost
// frame of x/crypto/ssh, charmbracelet/ssh, codeterm's sshd, the session
// core or the net poller; "other" is the rest), and, in the log, the
// goroutines per client by the function they run.
//
//	go test -run '^$' -bench IdleSSHHeap -benchtime 1x -v ./sshd/
//
// It is the SSH half of what `make bench`'s idle-sessions row measures
// from outside (PSS, shells and sessions included): the part that is the
// SSH front-end's.
func BenchmarkIdleSSHHeap(b *testing.B) {
	const n = 100
	defer idletest.ProfileEveryAllocation()() // the split is exact
	for b.Loop() {
		reportIdleSSH(b, measureIdleSSH(b, n, false))
	}
}

// BenchmarkIdleSSHHeapAfterOutput is BenchmarkIdleSSHHeap with sessions
// that have printed about 130 KB (seq 1 20000) before the clients attach,
// as a session in use has: each client gets that history as its first
// output, in full packets. x/crypto/ssh's cipher keeps the buffer it
// sealed the largest packet in for as long as the connection lives, so
// this is what an idle client costs once any burst of output reached it.
func BenchmarkIdleSSHHeapAfterOutput(b *testing.B) {
	const n = 100
	defer idletest.ProfileEveryAllocation()()
	for b.Loop() {
		reportIdleSSH(b, measureIdleSSH(b, n, true))
	}
}

// BenchmarkIdleSSHFloor is BenchmarkIdleSSHHeap's clients against the
// least an SSH server written directly on x/crypto/ssh keeps per idle
// client: the library's own goroutines (read loop, key exchange loop,
// channel mux), one per connection that takes its channels and every
// request, one reading the session channel's input, and no session core
// (a fixed 1 KiB stands in for the repaint). It is the floor for the SSH
// half of the idle figure as long as x/crypto/ssh carries the protocol.
func BenchmarkIdleSSHFloor(b *testing.B) {
	const n = 100
	defer idletest.ProfileEveryAllocation()()
	for b.Loop() {
		addr, key := startFloorServer(b)
		targets := make([]string, n)
		for i := range targets {
			targets[i] = "floor"
		}
		reportIdleSSH(b, measureIdleClients(b, addr, key, targets))
	}
}

// startFloorServer serves BenchmarkIdleSSHFloor's server on a loopback
// port until the benchmark ends; it accepts any key.
func startFloorServer(tb testing.TB) (addr, keyFile string) {
	_, hostPriv, _ := ed25519.GenerateKey(rand.Reader)
	hostKey, _ := gossh.NewSignerFromKey(hostPriv)
	cfg := &gossh.ServerConfig{PublicKeyCallback: func(gossh.ConnMetadata, gossh.PublicKey) (*gossh.Permissions, error) {
		return nil, nil
	}}
	cfg.AddHostKey(hostKey)
	keyFile, _ = writeKeyFile(tb)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	tb.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	repaint := bytes.Repeat([]byte("x"), 1024)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				floorConn(conn, cfg, repaint)
			}()
		}
	}()
	return ln.Addr().String(), keyFile
}

// floorConn serves one connection on a single goroutine of its own (and
// one for the session channel's input).
func floorConn(conn net.Conn, cfg *gossh.ServerConfig, repaint []byte) {
	sc, chans, reqs, err := gossh.NewServerConn(conn, cfg)
	if err != nil {
		conn.Close()
		return
	}
	defer sc.Close()
	var ch gossh.Channel
	var creqs <-chan *gossh.Request
	for {
		select {
		case r, ok := <-reqs:
			if !ok {
				return
			}
			if r.WantReply {
				r.Reply(false, nil)
			}
		case nc, ok := <-chans:
			if !ok {
				return
			}
			if ch != nil || nc.ChannelType() != "session" {
				nc.Reject(gossh.Prohibited, "one session channel")
				continue
			}
			if ch, creqs, err = nc.Accept(); err != nil {
				return
			}
			go func(in io.Reader) {
				buf := make([]byte, 256) // keystrokes
				for {
					if _, err := in.Read(buf); err != nil {
						return
					}
				}
			}(ch)
		case r, ok := <-creqs:
			if !ok {
				return
			}
			switch r.Type {
			case "pty-req", "env", "window-change":
				r.Reply(true, nil)
			case "exec", "shell":
				r.Reply(true, nil)
				ch.Write(repaint)
			default:
				r.Reply(false, nil)
			}
		}
	}
}

// reportIdleSSH reports a measureIdleClients result; the goroutines by
// function go to the log (-v).
func reportIdleSSH(b *testing.B, m idleSSHMeasure) {
	b.ReportMetric(m.heap/1024, "heap-KiB/client")
	b.ReportMetric(m.stack/1024, "stack-KiB/client")
	b.ReportMetric(m.goroutines, "goroutines/client")
	for _, o := range heapOwners {
		b.ReportMetric(m.byOwner[o.name]/1024, o.name+"-KiB/client")
	}
	b.ReportMetric(m.byOwner["other"]/1024, "other-KiB/client")
	var funcs []string
	for f := range m.byFunc {
		funcs = append(funcs, f)
	}
	slices.Sort(funcs)
	for _, f := range funcs {
		if g := m.byFunc[f]; g >= 0.05 || g <= -0.05 {
			b.Logf("%5.2f goroutines/client in %s", g, f)
		}
	}
}

// heapOwners are the libraries a live allocation is put down to, by the
// innermost frame of its stack that is in one of them.
var heapOwners = []struct{ name, prefix string }{
	{"xcrypto-ssh", "golang.org/x/crypto/ssh."},
	{"charm-ssh", "github.com/charmbracelet/ssh."},
	{"sshd", "github.com/codeterm/codeterm/sshd."},
	{"sessions", "github.com/codeterm/codeterm/sessions"},
	{"net", "net."},
}

func heapOwner(fn string) (string, bool) {
	for _, o := range heapOwners {
		if strings.HasPrefix(fn, o.prefix) {
			return o.name, true
		}
	}
	return "", false
}

type idleSSHMeasure struct {
	heap, stack, goroutines float64            // per client
	byOwner                 map[string]float64 // heap bytes per client
	byFunc                  map[string]float64 // goroutines per client
}

type idleSnapshot struct {
	ms     runtime.MemStats
	owners map[string]int64
	funcs  map[string]int
}

func takeIdleSnapshot() idleSnapshot {
	var s idleSnapshot
	runtime.GC()
	runtime.GC() // the heap profile is as of the last completed cycle
	runtime.ReadMemStats(&s.ms)
	s.owners = idletest.LiveHeap(heapOwner)
	s.funcs = goroutinesByFunc()
	return s
}

// measureIdleSSH starts n sessions (with history: each having printed
// about 130 KB), lets them go quiet, attaches one SSH client from a child
// process to each and measures what the clients cost.
func measureIdleSSH(tb testing.TB, n int, history bool) idleSSHMeasure {
	tb.Helper()
	addr, key, targets := startIdleSessions(tb, n, history)
	return measureIdleClients(tb, addr, key, targets)
}

// startIdleSessions starts n sessions behind a codeterm SSH server and
// lets them go quiet; it returns the server's address, alice's key file
// and the commands that attach to each.
func startIdleSessions(tb testing.TB, n int, history bool) (addr, key string, targets []string) {
	tb.Helper()
	h := newHarnessWith(tb, func(c *sessions.Config) { c.MaxPerUser, c.MaxPerWorkspace = -1, -1 })
	ctx := context.Background()
	for range n {
		s, err := h.sessions.Create(ctx, sessions.SpawnOptions{UserID: h.alice.ID, WorkspaceID: h.demo.ID,
			Dir: h.demo.LocalPath, Cols: 120, Rows: 40, Home: h.home})
		if err != nil {
			tb.Fatal(err)
		}
		targets = append(targets, "demo/"+s.ID())
		tb.Cleanup(func() { s.Kill(); <-s.Done() })
	}
	wait, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for _, s := range h.sessions.List(h.alice.ID, h.demo.ID) {
		a, err := s.Attach(sessions.AttachOptions{LastSeq: 0})
		if err != nil {
			tb.Fatal(err)
		}
		awaitSeq(tb, wait, s, a, 1, "its prompt")
		if history {
			if _, err := a.Write([]byte("seq 1 20000\n")); err != nil {
				tb.Fatal(err)
			}
			// Most of it; the rest comes during the quiet below.
			awaitSeq(tb, wait, s, a, 100_000, "seq's output")
		}
		a.Close()
	}
	// Quiet: the pumps leave, the screens are packed (after 10 s), so that
	// what the sessions hold is in the baseline.
	time.Sleep(12 * time.Second)
	return h.addr, h.keyAlice, targets
}

// awaitSeq reads a until s's output has reached seq.
func awaitSeq(tb testing.TB, ctx context.Context, s *sessions.Session, a *sessions.Attachment, seq int64, what string) {
	tb.Helper()
	for s.Info().Seq < seq {
		if _, err := a.Next(ctx); err != nil {
			tb.Fatalf("session %s: waiting for %s: %v", s.ID(), what, err)
		}
	}
}

// measureIdleClients attaches one SSH client from a child process to each
// target at addr and measures what they cost this process once idle.
func measureIdleClients(tb testing.TB, addr, key string, targets []string) idleSSHMeasure {
	tb.Helper()
	n := len(targets)
	before := takeIdleSnapshot()

	stop := idletest.StartClients(tb, "TestIdleSSHClientsChild", []string{"IDLE_SSH_ADDR=" + addr,
		"IDLE_SSH_KEY=" + key, "IDLE_SSH_TARGETS=" + strings.Join(targets, ",")}, "idle-ssh-clients-ready")
	defer stop()
	// Idle again: the repaints' work winds down, the screens are packed
	// again.
	time.Sleep(12 * time.Second)
	after := takeIdleSnapshot()
	if p := os.Getenv("IDLE_HEAP_PROFILE"); p != "" {
		idletest.WriteHeapProfile(tb, p)
	}

	per := func(d int64) float64 { return float64(d) / float64(n) }
	m := idleSSHMeasure{
		heap:    per(int64(after.ms.HeapAlloc) - int64(before.ms.HeapAlloc)),
		stack:   per(int64(after.ms.StackInuse) - int64(before.ms.StackInuse)),
		byOwner: map[string]float64{},
		byFunc:  map[string]float64{},
	}
	for o, v := range after.owners {
		m.byOwner[o] += per(v)
	}
	for o, v := range before.owners {
		m.byOwner[o] -= per(v)
	}
	for f, c := range after.funcs {
		m.byFunc[f] += per(int64(c))
		m.goroutines += per(int64(c))
	}
	for f, c := range before.funcs {
		m.byFunc[f] -= per(int64(c))
		m.goroutines -= per(int64(c))
	}
	return m
}

// goroutinesByFunc counts the live goroutines by the function each was
// started with.
func goroutinesByFunc() map[string]int {
	n, _ := runtime.GoroutineProfile(nil)
	recs := make([]runtime.StackRecord, n+100)
	n, _ = runtime.GoroutineProfile(recs)
	out := map[string]int{}
	for _, r := range recs[:n] {
		frames := runtime.CallersFrames(r.Stack())
		start := "?"
		for {
			f, more := frames.Next()
			if f.Function != "runtime.goexit" && f.Function != "" {
				start = f.Function
			}
			if !more {
				break
			}
		}
		out[start]++
	}
	return out
}

// TestIdleSSHClientsChild is BenchmarkIdleSSHHeap's client process; it
// does nothing in an ordinary run.
func TestIdleSSHClientsChild(t *testing.T) {
	addr := os.Getenv("IDLE_SSH_ADDR")
	if addr == "" {
		t.Skip("the client half of BenchmarkIdleSSHHeap")
	}
	pem, err := os.ReadFile(os.Getenv("IDLE_SSH_KEY"))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := gossh.ParsePrivateKey(pem)
	if err != nil {
		t.Fatal(err)
	}
	for i, target := range strings.Split(os.Getenv("IDLE_SSH_TARGETS"), ",") {
		c, err := gossh.Dial("tcp", addr, &gossh.ClientConfig{
			User: "alice", Auth: []gossh.AuthMethod{gossh.PublicKeys(signer)},
			HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 30 * time.Second,
		})
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		s, err := c.NewSession()
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		if err := s.RequestPty("xterm-256color", 40, 120, gossh.TerminalModes{}); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		// Stdin stays open, as a terminal's does: without it the
		// client sends EOF at once and the server's input reader ends.
		if _, err := s.StdinPipe(); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		out, _ := s.StdoutPipe()
		if err := s.Start(target); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		first := make([]byte, 1)
		if _, err := io.ReadFull(out, first); err != nil {
			t.Fatalf("client %d: no repaint: %v", i, err)
		}
		go io.Copy(io.Discard, out)
	}
	idletest.WaitForClients("idle-ssh-clients-ready")
}
