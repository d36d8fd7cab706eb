package sessions

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// forget makes m let go of its sessions without touching them, as the exec
// does to the old program image.
func forget(m *Manager) {
	m.mu.Lock()
	for id := range m.sessions {
		delete(m.sessions, id)
		m.wg.Done()
	}
	m.mu.Unlock()
}

// numbered checks that text holds the lines L0..L(n-1) once each, in order.
func numbered(t *testing.T, text []byte, n int) {
	t.Helper()
	// Not anchored: the first line may follow the prompt.
	got := regexp.MustCompile(`L(\d+)\r\n`).FindAllSubmatch(text, -1)
	if len(got) != n {
		t.Fatalf("%d numbered lines, want %d", len(got), n)
	}
	for i, m := range got {
		if string(m[1]) != fmt.Sprint(i) {
			t.Fatalf("line %d is L%s", i, m[1])
		}
	}
}

// TestHandoverMovesSessions: a session exported in the middle of a stream
// and imported by another manager (the next program image) keeps its id,
// shell, variables, jobs, offsets and recording; a client resuming at its
// last offset gets every byte once; the new manager reaps the shell.
func TestHandoverMovesSessions(t *testing.T) {
	rec := t.TempDir()
	e := newTestEnv(t, Config{RecordDir: rec})
	s := e.create(0)
	c1 := collect(t, neverLag(attach(t, s, AttachOptions{LastSeq: -1})))
	a1 := c1.a
	input(t, a1, "X=kept; sleep 300 & echo go\"\"ne\n")
	c1.waitFor("gone")
	const lines = 3000
	input(t, a1, fmt.Sprintf("i=0; while [ $i -lt %d ]; do echo L$i; i=$((i+1)); done; echo EN\"\"D\n", lines))
	c1.waitFor("L100\r\n")

	h, err := e.m.Export()
	if err != nil {
		t.Fatal(err)
	}
	// The PTY master and the listener behind the shell's SSH_AUTH_SOCK.
	if len(h.Files) != 2 || len(h.PIDs) != 1 || h.PIDs[0] != s.pid {
		t.Fatalf("handover: %d files, pids %v", len(h.Files), h.PIDs)
	}
	// The old image's attachment gets nothing more: its pump is parked.
	// What was queued before it parked still comes (the collector may be
	// behind): take all of it, and no more.
	seq1 := s.Info().Seq
	c1.waitUntil("the output queued before the switch", func() bool { return c1.lastSeq >= seq1 })
	if _, last := c1.seqs(); last != seq1 {
		t.Fatalf("the old image's attachment got output to %d after the switch at %d", last, seq1)
	}
	forget(e.m)
	// The exec closes the old image's descriptors without unlinking.
	s.agent.ln.(*net.UnixListener).SetUnlinkOnClose(false)
	s.agent.ln.Close()

	log := slog.New(slog.DiscardHandler)
	m2 := NewManager(Config{RecordDir: rec}, e.st, log)
	t.Cleanup(func() { m2.Shutdown(context.Background()) })
	n, err := m2.Import(context.Background(), h.Data, h.Files)
	if err != nil || n != 1 {
		t.Fatalf("import: %d, %v", n, err)
	}
	s2, err := m2.Get(e.user.ID, s.id)
	if err != nil {
		t.Fatal(err)
	}
	if i := s2.Info(); i.PID != s.pid || i.Name != s.Name() || !i.CreatedAt.Equal(s.created) || i.Seq < seq1 {
		t.Fatalf("imported %+v", i)
	}
	c2 := collect(t, neverLag(attach(t, s2, AttachOptions{LastSeq: seq1})))
	c2.waitFor("END")
	if k := c2.kinds(ChunkRepaint); len(k) != 0 {
		t.Fatal("resumed with a repaint, not the missing bytes")
	}
	first, _ := c2.seqs()
	if first != seq1 {
		t.Fatalf("resumed at %d, left at %d", first, seq1)
	}
	numbered(t, append(c1.streamCopy(), c2.streamCopy()...), lines)

	// The agent socket the shell was given still answers (no agent
	// forwarded: the relay closes the connection at once).
	input(t, c2.a, "python3 -c 'import os,socket; socket.socket(socket.AF_UNIX).connect(os.environ[\"SSH_AUTH_SOCK\"])' && echo agent-sock\"\"et\n")
	c2.waitFor("agent-socket")
	input(t, c2.a, "echo X=$X; kill -0 $! && echo job-al\"\"ive; exit 7\n")
	c2.waitFor("X=kept")
	c2.waitFor("job-alive")
	if x := c2.waitExit(); x.ExitCode != 7 {
		t.Fatalf("exit %d, want 7 reaped by the new manager", x.ExitCode)
	}
	waitDone(t, s2)

	cast, err := os.ReadFile(filepath.Join(rec, s.id+".cast"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Count(cast, []byte(`"version":2`)) != 1 || !bytes.Contains(cast, []byte("L2999")) || !bytes.Contains(cast, []byte("X=kept")) {
		t.Fatalf("recording not one continued cast:\n%s", cast[:min(len(cast), 300)])
	}
}

// TestHandoverResume: a failed exec resumes the sessions in place with
// nothing lost, and creating sessions works again.
func TestHandoverResume(t *testing.T) {
	e := newTestEnv(t, Config{RecordDir: t.TempDir()})
	s := e.create(0)
	c := collect(t, neverLag(attach(t, s, AttachOptions{LastSeq: -1})))
	input(t, c.a, "i=0; while [ $i -lt 2000 ]; do echo L$i; i=$((i+1)); done; echo EN\"\"D\n")
	c.waitFor("L50\r\n")
	h, err := e.m.Export()
	if err != nil {
		t.Fatal(err)
	}
	// A resize while frozen waits: the exported size is the terminal's.
	if err := c.a.Resize(100, 30); err != nil {
		t.Fatal(err)
	}
	if i := s.Info(); i.Cols != 80 || i.Rows != 24 {
		t.Fatalf("resized to %dx%d while frozen", i.Cols, i.Rows)
	}
	created := make(chan error, 1)
	go func() { _, err := e.m.Create(context.Background(), e.opts(1)); created <- err }()
	h.Resume()
	if i := s.Info(); i.Cols != 100 || i.Rows != 30 {
		t.Fatalf("%dx%d after resume, want the client's 100x30", i.Cols, i.Rows)
	}
	if err := <-created; err != nil {
		t.Fatalf("create after resume: %v", err)
	}
	c.waitFor("END")
	numbered(t, c.streamCopy(), 2000)
	input(t, c.a, "exit 3\n")
	if x := c.waitExit(); x.ExitCode != 3 {
		t.Fatalf("exit %d", x.ExitCode)
	}
}

// TestHandoverRefusesUnknownFormat: Import never guesses at a format.
func TestHandoverRefusesUnknownFormat(t *testing.T) {
	e := newTestEnv(t, Config{})
	r, w, _ := os.Pipe()
	defer w.Close()
	_, err := e.m.Import(context.Background(), []byte(`{"Version":99,"Sessions":[{"ID":"x","Master":0}]}`), []*os.File{r})
	if err == nil || !strings.Contains(err.Error(), "format 99") {
		t.Fatalf("import of format 99: %v", err)
	}
	if _, err := r.Read(make([]byte, 1)); err == nil || err == io.EOF {
		t.Fatalf("unused file left open: %v", err)
	}
}

// TestHandoverKeepsScreenAndScrollback: a client that attaches after the
// switch gets the same screen, the scrollback above it and the title.
func TestHandoverKeepsScreenAndScrollback(t *testing.T) {
	e := newTestEnv(t, Config{})
	s := e.create(0)
	c := collect(t, attach(t, s, AttachOptions{LastSeq: -1}))
	input(t, c.a, "printf '\\033]2;my-title\\007'; for i in $(seq 1 60); do echo row-$i; done; echo sh\"\"own\n")
	c.waitFor("shown")
	h, err := e.m.Export()
	if err != nil {
		t.Fatal(err)
	}
	forget(e.m)
	m2 := NewManager(Config{}, nil, slog.New(slog.DiscardHandler))
	t.Cleanup(func() { m2.Shutdown(context.Background()) })
	if _, err := m2.Import(context.Background(), h.Data, h.Files); err != nil {
		t.Fatal(err)
	}
	s2, err := m2.Get(e.user.ID, s.id)
	if err != nil {
		t.Fatal(err)
	}
	if title := s2.Info().Title; title != "my-title" {
		t.Fatalf("title %q", title)
	}
	v := collect(t, attach(t, s2, AttachOptions{LastSeq: -1, ReadOnly: true, Scrollback: 100}))
	first := v.chunk0()
	if first.Kind != ChunkRepaint {
		t.Fatalf("first chunk %v", first.Kind)
	}
	for _, want := range []string{"row-1\r", "row-30\r", "row-60", "shown"} {
		if !bytes.Contains(first.Data, []byte(want)) {
			t.Fatalf("repaint after the switch lacks %q:\n%q", want, first.Data)
		}
	}
	input(t, c.a, "exit\n") // the old image's attachment still writes to the same terminal
	v.waitExit()
}

// A pump held by its clients (pacing) must still park for a hand-over at
// once, not when a client drains or stalls.
func TestHandoverWhilePaced(t *testing.T) {
	e := newTestEnv(t, Config{QueueBytes: 64 << 10, StallTimeout: time.Hour})
	s := e.create(0)
	a := attach(t, s, AttachOptions{LastSeq: 0}) // never read: it holds the shell
	input(t, a, "yes paced | head -c 10000000\n")
	start := time.Now()
	for !s.paused.Load() {
		if time.Since(start) > waitTimeout {
			t.Fatal("the pump never waited for its client")
		}
		waitABit()
	}
	exportWithin(t, e.m, 10*time.Second).Resume()
}

// exportWithin exports m's sessions, failing the test if that takes longer
// than d: the pumps did not all park at the gate.
func exportWithin(t *testing.T, m *Manager, d time.Duration) *Handover {
	t.Helper()
	done := make(chan *Handover, 1)
	go func() {
		h, err := m.Export()
		if err != nil {
			t.Error(err)
		}
		done <- h
	}()
	select {
	case h := <-done:
		if h == nil {
			t.FailNow()
		}
		return h
	case <-time.After(d):
		t.Fatal("Export waited for a pump that did not park")
		return nil
	}
}

// TestHandoverKeepsCommandTracking: a shell that loaded the integration is
// still tracked by the next image, which starts its command list afresh.
func TestHandoverKeepsCommandTracking(t *testing.T) {
	e, s, c, _ := shellSession(t, "bash", true, nil)
	c.waitPrompts(1)
	h, err := e.m.Export()
	if err != nil {
		t.Fatal(err)
	}
	forget(e.m)
	if s.agent != nil {
		s.agent.ln.(*net.UnixListener).SetUnlinkOnClose(false)
		s.agent.ln.Close()
	}
	m2 := NewManager(Config{ShellIntegration: true}, e.st, slog.New(slog.DiscardHandler))
	t.Cleanup(func() { m2.Shutdown(context.Background()) })
	f := m2.WatchCommands()
	t.Cleanup(f.Close)
	if n, err := m2.Import(context.Background(), h.Data, h.Files); err != nil || n != 1 {
		t.Fatalf("import: %d, %v", n, err)
	}
	s2, err := m2.Get(e.user.ID, s.id)
	if err != nil {
		t.Fatal(err)
	}
	c2 := collect(t, attach(t, s2, AttachOptions{LastSeq: -1, Cols: 80, Rows: 24}))
	input(t, c2.a, "false\r")
	start, end := nextEvent(t, f, c2), nextEvent(t, f, c2)
	if start.Finished || !end.Finished || start.SessionID != s.id || start.Command.Command != "false" ||
		end.Command.ExitCode == nil || *end.Command.ExitCode != 1 {
		t.Fatalf("events after the hand-over: %+v then %+v", start, end)
	}
	if cmds := s2.Commands(); len(cmds) != 1 || cmds[0].ID != end.Command.ID {
		t.Fatalf("Commands() = %+v", cmds)
	}
	input(t, c2.a, "exit\r")
	c2.waitExit()
	waitDone(t, s2)
}
