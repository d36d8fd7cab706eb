package sessions

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// pumpParkedForTest reports whether s's pump is parked.
func (s *Session) pumpParkedForTest() bool {
	s.park.mu.Lock()
	defer s.park.mu.Unlock()
	return s.park.parked
}

// pumpGoroutines counts the goroutines running s's pump, from a dump of
// every goroutine (the receiver is printed as the first argument).
func pumpGoroutines(s *Session) int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), fmt.Sprintf("(*Session).pumpRun(%p", s))
		}
		buf = make([]byte, 2*len(buf))
	}
}

// pumpReport says where s's pump and shell stand: whether the pump is
// parked or running (and where its goroutine waits), whether a hand-over
// holds it, and the shell's and its children's states.
func pumpReport(s *Session) string {
	var b strings.Builder
	s.park.mu.Lock()
	parked, closing := s.park.parked, s.park.closing
	s.park.mu.Unlock()
	fmt.Fprintf(&b, "pump: parked %v, closing %v, hand-over requested %v, goroutines %d, seq %d, exiting %v\n",
		parked, closing, s.gate.requested(), pumpGoroutines(s), s.Info().Seq, s.exiting.Load())
	select {
	case <-s.pumpDone:
		b.WriteString("pump: done\n")
	default:
	}
	procs := []int{s.pid}
	if kids, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", s.pid, s.pid)); err == nil {
		for _, f := range strings.Fields(string(kids)) {
			if pid, err := strconv.Atoi(f); err == nil {
				procs = append(procs, pid)
			}
		}
	}
	for _, pid := range procs {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		wchan, _ := os.ReadFile(fmt.Sprintf("/proc/%d/wchan", pid))
		fmt.Fprintf(&b, "process %d: %q (%v), wchan %s\n", pid, stat, err, wchan)
	}
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, fmt.Sprintf("%p", s)) {
			b.WriteString(g + "\n\n")
		}
	}
	return b.String()
}

func tail(b []byte, n int) []byte { return b[max(0, len(b)-n):] }

// waitParked waits until the pump of each session has parked and no
// goroutine runs it.
func waitParked(t *testing.T, list ...*Session) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for _, s := range list {
		for !s.pumpParkedForTest() || pumpGoroutines(s) != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("the pump of an idle session still runs (%d goroutines)", pumpGoroutines(s))
			}
			waitABit()
		}
	}
}

// upSessions starts n sessions, each attached and past its first command.
func upSessions(t *testing.T, e *testEnv, n int) ([]*Session, []*collector) {
	t.Helper()
	var list []*Session
	var cs []*collector
	for i := range n {
		s := e.create(i % 2)
		c := collect(t, attach(t, s, AttachOptions{LastSeq: -1}))
		input(t, c.a, "echo up-$((40+2))\n")
		c.waitFor("up-42")
		list, cs = append(list, s), append(cs, c)
	}
	return list, cs
}

// An idle session holds no goroutine for its pump, and wakes it for the
// next output.
func TestIdlePumpHoldsNoGoroutine(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, Config{PumpIdle: 20 * time.Millisecond})
	list, cs := upSessions(t, e, 4)
	waitParked(t, list...)
	for i, c := range cs {
		input(t, c.a, fmt.Sprintf("echo again-%d-$((6*7))\n", i))
		c.waitFor(fmt.Sprintf("again-%d-42", i))
	}
	waitParked(t, list...)
}

// Output after a long idle arrives exactly once, in order, and the same
// everywhere: the attachment's stream, the ring, the screen and the
// recording.
func TestOutputAfterParking(t *testing.T) {
	t.Parallel()
	rec := t.TempDir()
	e := newTestEnv(t, Config{PumpIdle: 10 * time.Millisecond, RecordDir: rec})
	s := e.create(0)
	c := collect(t, neverLag(attach(t, s, AttachOptions{LastSeq: 0})))
	const lines = 500
	for round := range 3 {
		waitParked(t, s)
		input(t, c.a, fmt.Sprintf("printf '\\033[3%dm'; i=0; while [ $i -lt %d ]; do echo L$((i+%d)); i=$((i+1)); done; printf '\\033[m'; echo END-%d\"\"-\n",
			round+1, lines, round*lines, round))
		c.waitFor(fmt.Sprintf("END-%d-", round))
	}
	numbered(t, c.streamCopy(), 3*lines)
	want, seq := replayed(t, s, 80, 24, 1000)
	s.mu.Lock()
	got := s.lockScreen().AppendRepaint(nil, 1000)
	s.screen.mu.Unlock()
	a, b, _ := s.ring.slices(0)
	ring := append(bytes.Clone(a), b...)
	s.mu.Unlock()
	if !bytes.Equal(ring, c.streamCopy()) || int64(len(ring)) != seq {
		t.Fatalf("ring (%d bytes to %d) differs from the stream (%d bytes)", len(ring), seq, len(c.streamCopy()))
	}
	if w := want.AppendRepaint(nil, 1000); !bytes.Equal(got, w) {
		t.Fatalf("screen differs from the output replayed\n got %q\nwant %q", got, w)
	}
	input(t, c.a, "exit\n")
	c.waitExit()
	waitDone(t, s)
	out, _ := readCast(t, rec+"/"+s.ID()+".cast")
	if out != string(c.streamCopy()) {
		t.Fatal("recorded output differs from the session's")
	}
}

// A shell that exits while its pump is parked ends the session as before:
// by itself (the hang-up alone wakes the pump) or by Kill.
func TestExitWhileParked(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, Config{PumpIdle: 10 * time.Millisecond, KillGrace: 200 * time.Millisecond})
	for _, tc := range []struct {
		name   string
		end    func(s *Session, c *collector)
		code   int
		signal string
	}{
		{"exit", func(s *Session, c *collector) { input(t, c.a, "exit 5\n") }, 5, ""},
		// No output at all: only the hang-up is readable.
		{"killed", func(s *Session, c *collector) { unix.Kill(s.pid, unix.SIGKILL) }, 137, "SIGKILL"},
		{"Kill", func(s *Session, c *collector) { s.Kill() }, 129, "SIGHUP"},
	} {
		s := e.create(0)
		c := collect(t, attach(t, s, AttachOptions{LastSeq: 0}))
		input(t, c.a, "echo ready-$((2+2))\n")
		c.waitFor("ready-4")
		waitParked(t, s)
		tc.end(s, c)
		if x := c.waitExit(); x.ExitCode != tc.code || x.Signal != tc.signal {
			t.Errorf("%s: exit %d %q, want %d %q", tc.name, x.ExitCode, x.Signal, tc.code, tc.signal)
		}
		waitDone(t, s)
		<-s.pumpDone
		if n := pumpGoroutines(s); n != 0 {
			t.Errorf("%s: %d pump goroutines left", tc.name, n)
		}
	}
}

// A process that left the shell's session keeps the terminal open after
// the shell exits: the pump is parked when the server gives up waiting and
// closes the master under it, and the session still ends.
func TestTerminalClosedWhileParked(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, Config{PumpIdle: 10 * time.Millisecond, KillGrace: time.Second})
	s := e.create(0)
	c := collect(t, attach(t, s, AttachOptions{LastSeq: 0}))
	input(t, c.a, `python3 -c 'import os,time; os.fork() and os._exit(0); os.setsid(); print("pid", os.getpid(), "he"+"ld", flush=True); time.sleep(300)'`+"\n")
	held := regexp.MustCompile(`pid (\d+) held`)
	c.waitUntil("the pid", func() bool { return held.Match(c.all) })
	m := held.FindSubmatch(c.snapshot())
	pid, _ := strconv.Atoi(string(m[1]))
	t.Cleanup(func() { unix.Kill(pid, unix.SIGKILL) })
	input(t, c.a, "exit 3\n")
	c.waitFor("exit")
	// The shell has exited (it is reaped only once the end is over) and
	// the terminal is still open: the pump parks again while the end waits
	// for the hang-up that does not come.
	for !s.exiting.Load() {
		waitABit()
	}
	waitParked(t, s)
	if x := c.waitExit(); x.ExitCode != 3 {
		t.Fatalf("exit %d", x.ExitCode)
	}
	waitDone(t, s)
	<-s.pumpDone
	if n := pumpGoroutines(s); n != 0 {
		t.Fatalf("%d pump goroutines left", n)
	}
}

// A hand-over while pumps are parked wakes them to park at the gate: the
// export neither waits forever nor loses output, whether it is resumed or
// the sessions move to the next image.
func TestHandoverWhileParked(t *testing.T) {
	e := newTestEnv(t, Config{PumpIdle: 10 * time.Millisecond})
	list, cs := upSessions(t, e, 3)
	waitParked(t, list...)
	h := exportWithin(t, e.m, waitTimeout)
	for _, s := range list {
		if s.pumpParkedForTest() || pumpGoroutines(s) != 1 {
			t.Fatal("a pump is not at the gate")
		}
	}
	h.Resume()
	for i, c := range cs {
		input(t, c.a, fmt.Sprintf("echo resumed-%d-$((6*7))\n", i))
		c.waitFor(fmt.Sprintf("resumed-%d-42", i))
	}

	waitParked(t, list...)
	_, seq := cs[0].seqs()
	h = exportWithin(t, e.m, waitTimeout)
	forget(e.m)
	for _, s := range list {
		s.agent.ln.(*net.UnixListener).SetUnlinkOnClose(false)
		s.agent.ln.Close()
	}
	m2 := NewManager(Config{PumpIdle: 10 * time.Millisecond}, e.st, slog.New(slog.DiscardHandler))
	t.Cleanup(func() { m2.Shutdown(context.Background()) })
	if n, err := m2.Import(context.Background(), h.Data, h.Files); err != nil || n != len(list) {
		t.Fatalf("import: %d, %v", n, err)
	}
	s2, err := m2.Get(e.user.ID, list[0].id)
	if err != nil {
		t.Fatal(err)
	}
	waitParked(t, s2)
	c2 := collect(t, attach(t, s2, AttachOptions{LastSeq: seq}))
	input(t, c2.a, "echo moved-$((6*7)); exit 4\n")
	c2.waitFor("moved-42")
	if x := c2.waitExit(); x.ExitCode != 4 {
		t.Fatalf("exit %d", x.ExitCode)
	}
}

// Many sessions whose pumps park between every line, and wake for the
// next, while hand-overs are started and undone: every line arrives once
// and in order, and one goroutine at most runs each pump (-race checks the
// hand-offs between them).
func TestManyPumpsParkAndWake(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, Config{PumpIdle: time.Millisecond, MaxPerUser: -1, MaxPerWorkspace: -1})
	const sessions, lines = 12, 40
	var list []*Session
	var cs []*collector
	for i := range sessions {
		s := e.create(i % 2)
		c := collect(t, neverLag(attach(t, s, AttachOptions{LastSeq: 0})))
		list, cs = append(list, s), append(cs, c)
	}
	for _, c := range cs {
		input(t, c.a, fmt.Sprintf("i=0; while [ $i -lt %d ]; do echo L$i; sleep 0.00$((i%%3)); i=$((i+1)); done; echo EN\"\"D; exit\n", lines))
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			h, err := e.m.Export()
			if err != nil {
				t.Error(err)
				return
			}
			for _, s := range list {
				if n := pumpGoroutines(s); n > 1 {
					t.Errorf("%d goroutines run one pump", n)
				}
			}
			h.Resume()
			waitABit()
		}
	}()
	for i, c := range cs {
		select {
		case <-c.done:
		case <-time.After(waitTimeout):
			// Rare (once in many full-suite runs): say where the
			// session stands, to tell a lost wake-up from a shell that
			// never ran the line.
			t.Fatalf("session %d: no exit; output ends %q\n%s", i, tail(c.snapshot(), 300), pumpReport(list[i]))
		}
		c.waitExit()
	}
	close(stop)
	wg.Wait()
	for _, c := range cs {
		numbered(t, c.streamCopy(), lines)
	}
	for _, s := range list {
		waitDone(t, s)
		<-s.pumpDone
		if n := pumpGoroutines(s); n != 0 {
			t.Fatalf("%d pump goroutines left", n)
		}
	}
}

// Without epoll the pump reads as it always did: it never parks, and
// output and the exit still come (the exit through a thread blocked in
// wait, as readyWatch.exited fails too).
func TestPumpWithoutEpoll(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, Config{PumpIdle: time.Millisecond})
	notEpoll, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { notEpoll.Close() })
	e.m.ready.mu.Lock()
	// Every epoll_ctl on it fails; the entry keeps it from being closed.
	e.m.ready.ep, e.m.ready.waiting = notEpoll, map[int32]func(){-1: nil}
	e.m.ready.mu.Unlock()
	s := e.create(0)
	c := collect(t, attach(t, s, AttachOptions{LastSeq: 0}))
	input(t, c.a, "echo up-$((40+2))\n")
	c.waitFor("up-42")
	for range 5 {
		waitABit() // many times PumpIdle
	}
	if s.pumpParkedForTest() || pumpGoroutines(s) != 1 {
		t.Fatal("the pump is not reading")
	}
	input(t, c.a, "echo again-$((6*7)); exit 6\n")
	c.waitFor("again-42")
	if x := c.waitExit(); x.ExitCode != 6 {
		t.Fatalf("exit %d", x.ExitCode)
	}
}
