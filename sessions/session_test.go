package sessions

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/codeterm/codeterm/sessions/vt"
	"github.com/codeterm/codeterm/store"
)

func TestFanOut(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, Config{})
	s := e.create(0)
	var cs []*collector
	for range 3 {
		cs = append(cs, collect(t, attach(t, s, AttachOptions{LastSeq: 0})))
	}
	input(t, cs[0].a, "echo fan$((40+2))\n")
	for _, c := range cs {
		c.waitFor("fan42")
	}
	input(t, cs[1].a, "exit 0\n")
	for _, c := range cs {
		if ex := c.waitExit(); ex.ExitCode != 0 || ex.Signal != "" {
			t.Fatalf("exit %d %q", ex.ExitCode, ex.Signal)
		}
	}
	want := cs[0].streamCopy()
	for i, c := range cs {
		if got := c.streamCopy(); !bytes.Equal(got, want) {
			t.Fatalf("client %d stream differs:\n%q\n%q", i, got, want)
		}
		if first, last := c.seqs(); first != 0 || last != int64(len(want)) {
			t.Fatalf("client %d seq %d..%d for %d bytes", i, first, last, len(want))
		}
	}
}

// screenOf replays a repaint on a fresh emulator.
func screenOf(cols, rows int, repaint []byte) *vt.Terminal {
	term := vt.New(cols, rows, 0)
	term.Write(repaint)
	return term
}

func screenContains(term *vt.Terminal, want string) bool {
	_, rows := term.Size()
	for y := range rows {
		if strings.Contains(term.LineText(y), want) {
			return true
		}
	}
	return false
}

func TestLateJoinerSeesAltScreen(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, Config{})
	s := e.create(0)
	a := collect(t, attach(t, s, AttachOptions{LastSeq: -1, Cols: 80, Rows: 24}))
	input(t, a.a, `printf '\033[?1049h\033[H\033[2J\033[5;3HFULL-%s\033[1;1HTOP' screen; echo; echo done-$((6*7))`+"\n")
	a.waitFor("done-42")
	late := collect(t, attach(t, s, AttachOptions{LastSeq: -1}))
	first := late.chunk0()
	if first.Kind != ChunkRepaint {
		t.Fatalf("late joiner's first chunk is %v, not a repaint", first.Kind)
	}
	if first.Seq != s.Info().Seq {
		t.Fatalf("repaint seq %d, session seq %d", first.Seq, s.Info().Seq)
	}
	term := screenOf(80, 24, first.Data)
	if !term.AltScreen() {
		t.Error("repaint did not enter the alternate screen")
	}
	if got := term.LineText(4); !strings.Contains(got, "FULL-screen") {
		t.Errorf("row 5 = %q, want FULL-screen", got)
	}
}

func TestLateJoinerSeesLess(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("less"); err != nil {
		t.Skip("less not installed")
	}
	e := newTestEnv(t, Config{})
	file := filepath.Join(t.TempDir(), "f.txt")
	var content strings.Builder
	for i := range 200 {
		fmt.Fprintf(&content, "line-%03d of the file\n", i)
	}
	os.WriteFile(file, []byte(content.String()), 0o600)
	s := e.create(0)
	a := collect(t, attach(t, s, AttachOptions{LastSeq: -1, Cols: 80, Rows: 24}))
	input(t, a.a, "LESS= less "+file+"\n")
	a.waitFor("line-022")
	late := collect(t, attach(t, s, AttachOptions{LastSeq: -1}))
	term := screenOf(80, 24, late.chunk0().Data)
	if !screenContains(term, "line-000 of the file") || !screenContains(term, "line-022 of the file") {
		t.Errorf("repaint lacks less's page; row 0 %q", term.LineText(0))
	}
	input(t, a.a, "q")
	input(t, a.a, "exit\n")
	a.waitExit()
}

func TestReplayFromOffset(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, Config{RingBytes: 8 << 10})
	s := e.create(0)
	a := collect(t, attach(t, s, AttachOptions{LastSeq: 0}))
	input(t, a.a, "echo one-$((1+1))\n")
	a.waitFor("one-2")
	mid := s.Info().Seq
	a.waitUntil("seq", func() bool { return a.lastSeq >= mid })
	input(t, a.a, "echo two-$((2+1))\n")
	a.waitFor("two-3")

	// Exactly the missing bytes.
	r := collect(t, attach(t, s, AttachOptions{LastSeq: mid}))
	r.waitFor("two-3")
	got := r.streamCopy()
	first, last := r.seqs()
	a.waitUntil("seq", func() bool { return a.lastSeq >= last })
	full := a.streamCopy()
	if first != mid || !bytes.Equal(got, full[mid:mid+int64(len(got))]) {
		t.Fatalf("replay from %d (first %d):\n got %q\nwant %q", mid, first, got, full[mid:])
	}
	if len(r.kinds(ChunkRepaint)) != 0 {
		t.Fatal("replay sent a repaint")
	}

	// Up to date: nothing until new output, which starts at the same offset.
	cur := s.Info().Seq
	u := collect(t, attach(t, s, AttachOptions{LastSeq: cur}))
	input(t, a.a, "echo three-$((3+1))\n")
	u.waitFor("three-4")
	if ch := u.chunk0(); ch.Kind != ChunkOutput || ch.Seq-int64(len(ch.Data)) != cur {
		t.Fatalf("up-to-date client: first chunk %v ending at %d, want output from %d", ch.Kind, ch.Seq, cur)
	}

	// Ahead of the session (another process's offsets): repaint.
	ahead := collect(t, attach(t, s, AttachOptions{LastSeq: cur + 1_000_000}))
	if ch := ahead.chunk0(); ch.Kind != ChunkRepaint {
		t.Fatalf("client ahead got %v", ch.Kind)
	}

	// Too old for the ring: repaint, then output continues without a gap.
	input(t, a.a, "i=0; while [ $i -lt 400 ]; do echo filler-line-$i-abcdefghijklmnopqrstuvwxyz; i=$((i+1)); done; echo end-$((4+1))\n")
	a.waitFor("end-5")
	old := collect(t, attach(t, s, AttachOptions{LastSeq: 1}))
	rp := old.chunk0()
	if rp.Kind != ChunkRepaint || rp.Seq != s.Info().Seq {
		t.Fatalf("client behind the ring got %v at %d", rp.Kind, rp.Seq)
	}
	input(t, a.a, "echo six-$((5+1))\n")
	old.waitFor("six-6")
	a.waitFor("six-6")
	tail := a.streamCopy()[rp.Seq:]
	if got := old.streamCopy(); !bytes.HasPrefix(tail, got) || len(got) == 0 {
		t.Fatalf("output after repaint:\n got %q\nwant prefix of %q", got, tail)
	}
}

// payload writes a deterministic file of n printable bytes with no newline
// or escape, so what the terminal delivers must equal it byte for byte.
func payload(t *testing.T, n int) (string, []byte) {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + r.IntN(26))
		if i%97 == 0 {
			b[i] = ' '
		}
	}
	path := filepath.Join(t.TempDir(), "payload")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, b
}

// between returns what lies between the markers <S> and <E>.
func between(t *testing.T, out []byte) []byte {
	t.Helper()
	i := bytes.Index(out, []byte("<S>"))
	j := bytes.LastIndex(out, []byte("<E>"))
	if i < 0 || j < i {
		t.Fatalf("markers missing (%d, %d) in %d bytes", i, j, len(out))
	}
	return out[i+3 : j]
}

// markedCat is a command printing <S>, the file and <E>; the octal escapes
// keep the markers out of the command's own echo.
func markedCat(file string, n int) string {
	return fmt.Sprintf(`printf '\074S\076'; head -c %d %s; printf '\074E\076'`, n, file)
}

func TestLaggingClient(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, Config{QueueBytes: 1 << 20})
	const n = 6 << 20
	file, want := payload(t, n)
	s := e.create(0)
	slow := attach(t, s, AttachOptions{LastSeq: 0}) // never reads until the end
	b := collect(t, neverLag(attach(t, s, AttachOptions{LastSeq: 0})))
	c := collect(t, neverLag(attach(t, s, AttachOptions{LastSeq: 0, ReadOnly: true})))
	input(t, b.a, markedCat(file, n)+"; echo fin-$((8*8))\n")
	b.waitFor("fin-64")
	c.waitFor("fin-64")
	for _, cl := range []*collector{b, c} {
		if got := between(t, cl.streamCopy()); !bytes.Equal(got, want) {
			t.Fatalf("reading client lost bytes: %d of %d", len(got), len(want))
		}
		if cl.a.Lags() != 0 {
			t.Fatalf("reading client lagged")
		}
	}
	if slow.Lags() == 0 {
		t.Fatal("slow client never lagged")
	}
	ch, err := slow.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if ch.Kind != ChunkRepaint || ch.Seq != s.Info().Seq {
		t.Fatalf("slow client got %v at %d, want a repaint at %d", ch.Kind, ch.Seq, s.Info().Seq)
	}
	if !screenContains(screenOf(80, 24, ch.Data), "fin-64") {
		t.Fatalf("repaint does not show the current screen")
	}
	sc := collect(t, slow)
	input(t, b.a, "echo again-$((9*9))\n")
	sc.waitFor("again-81")
}

func TestQueryAnsweredByOneClient(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, Config{})
	s := e.create(0)
	a := collect(t, attach(t, s, AttachOptions{LastSeq: 0}))
	b := collect(t, attach(t, s, AttachOptions{LastSeq: 0}))
	v := collect(t, attach(t, s, AttachOptions{LastSeq: 0, ReadOnly: true}))
	input(t, a.a, `printf 'q1\033[6nq2'; echo; echo ok-$((3*3))`+"\n")
	for _, c := range []*collector{a, b, v} {
		c.waitFor("ok-9")
	}
	qa := a.kinds(ChunkQuery)
	if len(qa) != 1 || string(qa[0].Data) != "\x1b[6n" {
		t.Fatalf("answerer's queries: %+v", qa)
	}
	if len(b.kinds(ChunkQuery)) != 0 || len(v.kinds(ChunkQuery)) != 0 {
		t.Fatal("a query reached a client that is not the answerer")
	}
	// In order: the query sits between q1 and q2.
	a.mu.Lock()
	var before []byte
	for _, ch := range a.chunks {
		if ch.Kind == ChunkQuery {
			break
		}
		before = append(before, ch.Data...)
	}
	a.mu.Unlock()
	if !bytes.HasSuffix(before, []byte("q1")) {
		t.Fatalf("query out of order; output before it ends %q", before[max(0, len(before)-20):])
	}
	for _, c := range []*collector{a, b, v} {
		if bytes.Contains(c.streamCopy(), []byte("\x1b[6n")) {
			t.Fatal("query in the output stream")
		}
	}
	if !bytes.Contains(b.streamCopy(), []byte("q1q2")) {
		t.Fatal("output around the query lost")
	}
	r := collect(t, attach(t, s, AttachOptions{LastSeq: 0}))
	r.waitFor("ok-9")
	if bytes.Contains(r.streamCopy(), []byte("\x1b[6n")) {
		t.Fatal("query in the replay")
	}
	// The answerer follows activity: now b.
	input(t, b.a, `printf '\033[c'; echo ok-$((4*4))`+"\n")
	b.waitFor("ok-16")
	a.waitFor("ok-16")
	if qb := b.kinds(ChunkQuery); len(qb) != 1 || string(qb[0].Data) != "\x1b[c" {
		t.Fatalf("new answerer's queries: %+v", qb)
	}
	if len(a.kinds(ChunkQuery)) != 1 {
		t.Fatal("old answerer got the new query")
	}
}

func TestResizeLatestWins(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, Config{})
	s := e.create(0)
	a := collect(t, attach(t, s, AttachOptions{LastSeq: 0, Cols: 100, Rows: 30}))
	b := collect(t, attach(t, s, AttachOptions{LastSeq: 0, Cols: 90, Rows: 20}))
	if i := s.Info(); i.Cols != 90 || i.Rows != 20 {
		t.Fatalf("after b attached: %dx%d", i.Cols, i.Rows)
	}
	v := attach(t, s, AttachOptions{LastSeq: 0, ReadOnly: true, Cols: 50, Rows: 10})
	if err := v.Resize(40, 12); err != nil {
		t.Fatal(err)
	}
	if n, _ := v.Write([]byte("echo viewer-input\n")); n != len("echo viewer-input\n") {
		t.Fatal("viewer write not reported as written")
	}
	if i := s.Info(); i.Cols != 90 || i.Rows != 20 {
		t.Fatalf("viewer changed the size to %dx%d", i.Cols, i.Rows)
	}
	input(t, a.a, "stty size\n")
	a.waitFor("30 100")
	if err := b.a.Resize(81, 25); err != nil {
		t.Fatal(err)
	}
	input(t, a.a, "") // empty writes are no activity
	input(t, b.a, "stty size\n")
	b.waitFor("25 81")
	s.mu.Lock()
	c, r := s.lockScreen().Size()
	s.screen.mu.Unlock()
	s.mu.Unlock()
	if c != 81 || r != 25 {
		t.Fatalf("emulator is %dx%d", c, r)
	}
	b.a.Close()
	if i := s.Info(); i.Cols != 100 || i.Rows != 30 {
		t.Fatalf("after the latest left: %dx%d, want a's 100x30", i.Cols, i.Rows)
	}
	if bytes.Contains(a.snapshot(), []byte("viewer-input")) {
		t.Fatal("viewer input reached the shell")
	}
	for _, bad := range [][2]int{{0, 10}, {10, 0}, {1001, 10}, {10, 1001}, {-1, 5}} {
		if err := a.a.Resize(bad[0], bad[1]); !errors.Is(err, ErrInvalidSize) {
			t.Errorf("Resize(%d, %d) = %v", bad[0], bad[1], err)
		}
	}
	if err := a.a.Resize(1000, 1); err != nil {
		t.Errorf("Resize(1000, 1) = %v", err)
	}
}

func TestExitCodeAndSignal(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, Config{})
	for _, tc := range []struct {
		cmd    string
		code   int
		signal string
	}{
		{"exit 3", 3, ""},
		{`exec sh -c 'kill -TERM $$'`, 128 + 15, "SIGTERM"},
	} {
		s := e.create(0)
		a := collect(t, attach(t, s, AttachOptions{LastSeq: 0}))
		input(t, a.a, tc.cmd+"\n")
		ex := a.waitExit()
		if ex.ExitCode != tc.code || ex.Signal != tc.signal {
			t.Errorf("%s: exit %d %q", tc.cmd, ex.ExitCode, ex.Signal)
		}
		waitDone(t, s)
		i := s.Info()
		if i.Status != store.SessionTerminated || i.ExitCode == nil || *i.ExitCode != tc.code || i.Signal != tc.signal {
			t.Errorf("%s: info %+v", tc.cmd, i)
		}
		rec, err := e.st.Session(context.Background(), s.ID())
		if err != nil {
			t.Fatal(err)
		}
		if rec.Status != store.SessionTerminated || rec.ExitCode == nil || *rec.ExitCode != tc.code || rec.Signal != tc.signal {
			t.Errorf("%s: stored %+v", tc.cmd, rec)
		}
		if _, err := e.m.Get(e.user.ID, s.ID()); !errors.Is(err, ErrNotFound) {
			t.Errorf("ended session still found: %v", err)
		}
		if _, err := s.Attach(AttachOptions{LastSeq: -1}); !errors.Is(err, ErrClosed) {
			t.Errorf("attach after exit: %v", err)
		}
		if _, err := a.a.Write([]byte("x")); !errors.Is(err, ErrClosed) {
			t.Errorf("write after exit: %v", err)
		}
	}
}

func TestNoOutputLostAtExit(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, Config{})
	const n = 10 << 20
	file, want := payload(t, n)
	s := e.create(0)
	a := collect(t, neverLag(attach(t, s, AttachOptions{LastSeq: 0})))
	input(t, a.a, markedCat(file, n)+"; exit\n")
	a.waitExit()
	got := between(t, a.streamCopy())
	if len(got) != n || sha256.Sum256(got) != sha256.Sum256(want) {
		t.Fatalf("got %d bytes (hash differs: %v), want %d", len(got), !bytes.Equal(got, want), n)
	}
}

func TestEchoThenExitManyTimes(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, Config{MaxPerUser: -1, MaxPerWorkspace: -1})
	const runs, parallel = 200, 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	sem := make(chan struct{}, parallel)
	for i := range runs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			s, err := e.m.Create(context.Background(), e.opts(i%2))
			if err != nil {
				mu.Lock()
				failures = append(failures, err.Error())
				mu.Unlock()
				return
			}
			a, err := s.Attach(AttachOptions{LastSeq: 0})
			if err != nil {
				mu.Lock()
				failures = append(failures, err.Error())
				mu.Unlock()
				return
			}
			defer a.Close()
			a.Write([]byte("echo R; exit\n"))
			var out []byte
			exited := false
			for {
				ch, err := a.Next(context.Background())
				if err != nil {
					break
				}
				out = append(out, ch.Data...)
				exited = exited || ch.Kind == ChunkExit
			}
			_, after, _ := bytes.Cut(out, []byte("exit\r\n"))
			if !bytes.Contains(after, []byte("R\r\n")) || !exited {
				mu.Lock()
				failures = append(failures, fmt.Sprintf("run %d: exit %v, output %q", i, exited, out))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d of %d runs failed; first: %s", len(failures), runs, failures[0])
	}
}

func TestKill(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, Config{KillGrace: 300_000_000})
	// A plain shell dies of the SIGHUP.
	s := e.create(0)
	a := collect(t, attach(t, s, AttachOptions{LastSeq: 0}))
	input(t, a.a, "echo ready-$((2+2))\n")
	a.waitFor("ready-4")
	if err := e.m.Kill(e.other.ID, s.ID()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another user's kill: %v", err)
	}
	if err := e.m.Kill(e.user.ID, s.ID()); err != nil {
		t.Fatal(err)
	}
	if ex := a.waitExit(); ex.Signal != "SIGHUP" {
		t.Fatalf("killed shell: exit %d %q", ex.ExitCode, ex.Signal)
	}
	// One that ignores SIGHUP gets SIGKILL after the grace period.
	s = e.create(0)
	a = collect(t, attach(t, s, AttachOptions{LastSeq: 0}))
	input(t, a.a, "trap '' HUP; echo trapped-$((3+3))\n")
	a.waitFor("trapped-6")
	s.Kill()
	if ex := a.waitExit(); ex.Signal != "SIGKILL" || ex.ExitCode != 137 {
		t.Fatalf("HUP-proof shell: exit %d %q", ex.ExitCode, ex.Signal)
	}
	waitDone(t, s)
}

func TestShellEnvironmentHasNoSecrets(t *testing.T) {
	t.Setenv("CODETERM_JWT_SECRET", "jwt-secret-value-1")
	t.Setenv("GITHUB_TOKEN", "ghp-secret-value-2")
	t.Setenv("GITHUB_CLIENT_SECRET", "gh-secret-value-3")
	t.Setenv("LC_TIME", "C")
	e := newTestEnv(t, Config{HistoryDir: t.TempDir()})
	o := e.opts(0)
	o.Env = []string{"LANG=C.UTF-8", "CODETERM_X=client-secret-4", "LD_PRELOAD=/evil.so"}
	s, err := e.m.Create(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	a := collect(t, attach(t, s, AttachOptions{LastSeq: 0}))
	input(t, a.a, "env; echo env-$((5+5))\n")
	a.waitFor("env-10")
	out := string(a.snapshot())
	for _, secret := range []string{"secret-value", "client-secret", "LD_PRELOAD", "CODETERM"} {
		if strings.Contains(out, secret) {
			t.Errorf("%q reached the shell's environment", secret)
		}
	}
	for _, want := range []string{"TERM=xterm-256color", "COLORTERM=truecolor", "LANG=C.UTF-8", "LC_TIME=C",
		"HOME=" + e.home, "USER=alice", "HISTFILE=" + e.m.HistFile(o.WorkspaceID)} {
		if !strings.Contains(out, want) {
			t.Errorf("environment lacks %s", want)
		}
	}
}

func TestHistoryPerWorkspace(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not installed")
	}
	e := newTestEnv(t, Config{HistoryDir: t.TempDir()})
	h0, h1 := e.m.HistFile(e.ws[0].ID), e.m.HistFile(e.ws[1].ID)
	if h0 == h1 {
		t.Fatal("two workspaces share a history file")
	}
	run := func(ws int, cmd, want string) *collector {
		o := e.opts(ws)
		o.Shell = "bash"
		s, err := e.m.Create(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		a := collect(t, attach(t, s, AttachOptions{LastSeq: 0}))
		input(t, a.a, cmd+"\n")
		a.waitFor(want)
		input(t, a.a, "exit\n")
		a.waitExit()
		return a
	}
	run(0, "echo hist-marker-$((7*6))", "hist-marker-42")
	b, _ := os.ReadFile(h0)
	if !strings.Contains(string(b), "hist-marker-$((7*6))") {
		t.Fatalf("history file %s = %q", h0, b)
	}
	run(1, "echo other-$((1+1))", "other-2")
	if b, _ := os.ReadFile(h1); strings.Contains(string(b), "hist-marker") {
		t.Fatal("history leaked into another workspace")
	}
	// A new session of the first workspace has the old history.
	run(0, "history | grep -c 'hist-marker-\\$' | sed 's/^/count=/'", "count=1")
}

func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, Config{IdleTimeout: 200_000_000})
	s := e.create(0)
	a := collect(t, attach(t, s, AttachOptions{LastSeq: 0}))
	input(t, a.a, "echo idle-$((1+2))\n")
	a.waitFor("idle-3")
	a.a.Close()
	waitDone(t, s)
	if i := s.Info(); i.Signal != "SIGHUP" {
		t.Fatalf("idle session ended with %+v", i)
	}
}

func TestRecording(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := newTestEnv(t, Config{RecordDir: dir})
	s := e.create(0)
	a := collect(t, attach(t, s, AttachOptions{LastSeq: 0, Cols: 100, Rows: 30}))
	input(t, a.a, "echo rec-$((2*21)) é; exit\n")
	a.waitExit()
	waitDone(t, s)
	b, err := os.ReadFile(filepath.Join(dir, s.ID()+".cast"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if !strings.HasPrefix(lines[0], `{`) || !strings.Contains(lines[0], `"version":2`) {
		t.Fatalf("header %q", lines[0])
	}
	if !strings.Contains(string(b), `rec-42 é`) || !strings.Contains(string(b), `"r", "100x30"]`) {
		t.Fatalf("recording lacks the output or the resize:\n%s", b)
	}
}

func TestProcesses(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, Config{})
	s := e.create(0)
	a := collect(t, attach(t, s, AttachOptions{LastSeq: 0}))
	input(t, a.a, "sleep 1234 & echo bg-$((1+1))\n")
	a.waitFor("bg-2")
	found := false
	for range 500 {
		for _, p := range s.Processes() {
			found = found || p.Command == "sleep 1234"
		}
		if found {
			break
		}
		// /proc shows the exec shortly after the fork; this polls the
		// process table, not the output.
		waitABit()
	}
	if !found {
		t.Fatalf("sleep not among %+v", s.Processes())
	}
	s.Kill()
	waitDone(t, s)
}

func TestIncompleteSequenceAtEndIsDelivered(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, Config{KillGrace: 200_000_000})
	s := e.create(0)
	a := collect(t, attach(t, s, AttachOptions{LastSeq: 0}))
	// The program stops right after an ESC that could start a query.
	input(t, a.a, `printf 'held-\033'; sleep 1000`+"\n")
	a.waitFor("held-\x1b")
	s.Kill()
	a.waitExit()
}

func TestReplayLargerThanQueue(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, Config{QueueBytes: 4 << 10, RingBytes: 1 << 20})
	s := e.create(0)
	a := collect(t, neverLag(attach(t, s, AttachOptions{LastSeq: 0})))
	input(t, a.a, "i=0; while [ $i -lt 500 ]; do echo replay-line-$i; i=$((i+1)); done; echo big-$((9+9))\n")
	a.waitFor("big-18")
	_, last := a.seqs()
	// 10+ KiB missed with a 4 KiB queue: still an exact replay.
	r := attach(t, s, AttachOptions{LastSeq: 0})
	var got []byte
	for int64(len(got)) < last {
		ch, err := r.Next(context.Background())
		if err != nil || ch.Kind != ChunkOutput {
			t.Fatalf("chunk %v, %v after %d bytes", ch.Kind, err, len(got))
		}
		got = append(got, ch.Data...)
	}
	if want := a.streamCopy(); !bytes.Equal(got[:last], want[:last]) {
		t.Fatal("replay differs")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var err error
	for i := 0; err == nil && i < 100; i++ { // what is queued comes first
		_, err = r.Next(ctx)
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Next with a cancelled context: %v", err)
	}
}

// TestNextAfterClose: a client that detaches while its reader still holds
// a chunk (a browser tab closing mid-stream) must get ErrClosed from its
// next Next, not a crash of the whole server.
func TestNextAfterClose(t *testing.T) {
	e := newTestEnv(t, Config{})
	s := e.create(0)
	a, err := s.Attach(AttachOptions{LastSeq: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if ch, err := a.Next(ctx); err != nil || ch.Kind != ChunkRepaint {
		t.Fatalf("first chunk: %v %v", ch.Kind, err)
	}
	input(t, a, "echo HELD$((1+1))\n")
	var out []byte
	for !bytes.Contains(out, []byte("HELD2")) {
		ch, err := a.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ch.Data...)
	}
	a.Close() // while the last chunk is still "held" by the reader
	if _, err := a.Next(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after Close: %v, want ErrClosed", err)
	}
}

// TestTryWrite: input written without waiting reaches the shell like
// Write's; a viewer's is dropped, too much is refused, a closed client's
// fails.
func TestTryWrite(t *testing.T) {
	e := newTestEnv(t, Config{MaxInputBytes: 64})
	s := e.create(0)
	a := attach(t, s, AttachOptions{LastSeq: -1})
	c := collect(t, a)
	viewer := attach(t, s, AttachOptions{LastSeq: -1, ReadOnly: true})
	if n, err := viewer.TryWrite([]byte("echo VIEWER\n")); n != 12 || err != nil {
		t.Fatalf("viewer: %d %v", n, err)
	}
	if _, err := a.TryWrite(bytes.Repeat([]byte("x"), 65)); !errors.Is(err, ErrInputTooLarge) {
		t.Fatalf("65 bytes: %v", err)
	}
	in := []byte("echo TRY$((20+22))\n")
	n, err := a.TryWrite(in)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Write(in[n:]); err != nil { // what the terminal did not take at once
		t.Fatal(err)
	}
	c.waitFor("TRY42")
	if bytes.Contains(c.snapshot(), []byte("VIEWER")) {
		t.Fatal("a viewer's input reached the shell")
	}
	a.Close()
	if _, err := a.TryWrite([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

// TestDirect checks the pump's direct hand-off: taken output never comes
// again through Next, refused output does, and the two together are the
// exact stream another client reads, in order.
func TestDirect(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, Config{})
	s := e.create(0)
	ref := collect(t, neverLag(attach(t, s, AttachOptions{LastSeq: 0})))
	var (
		c              *collector
		calls, refused int
		taken          int
	)
	direct := func(data []byte, seq int64) bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		calls++
		if calls%3 == 0 {
			refused++
			return false // must come through Next, after what was taken
		}
		if from := seq - int64(len(data)); from != c.lastSeq {
			t.Errorf("direct output from %d, the last ended at %d", from, c.lastSeq)
		}
		taken++
		c.stream = append(c.stream, data...)
		c.all = append(c.all, data...)
		c.lastSeq = seq
		close(c.changed)
		c.changed = make(chan struct{})
		return true
	}
	a := neverLag(attach(t, s, AttachOptions{LastSeq: 0, Direct: direct}))
	c = collect(t, a)
	for i := range 30 {
		if i == 15 { // a burst in between: larger than Direct is offered
			input(t, a, "seq 1 3000; echo END-$((40+2))\n")
			c.waitFor("END-42")
		}
		input(t, a, fmt.Sprintf("printf 'K%%02dK\\n' %d\n", i))
		c.waitFor(fmt.Sprintf("K%02dK", i))
	}
	ref.waitFor("K29K")
	c.mu.Lock()
	got, n, r := bytes.Clone(c.stream), taken, refused
	c.mu.Unlock()
	if want := ref.streamCopy(); !bytes.Equal(got, want) {
		i := 0
		for i < min(len(got), len(want)) && got[i] == want[i] {
			i++
		}
		t.Fatalf("direct and queued output (%d bytes) differ from the stream (%d) at %d: got %q, want %q",
			len(got), len(want), i, got[i:min(len(got), i+40)], want[i:min(len(want), i+40)])
	}
	if n == 0 || r == 0 {
		t.Fatalf("direct took %d and refused %d: both paths must be exercised", n, r)
	}
}

// TestDirectNotWhileHolding: a reader that has not come back to Next may
// still be sending what it has, so output waits in its queue.
func TestDirectNotWhileHolding(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, Config{})
	s := e.create(0)
	var calls atomic.Int32
	a := attach(t, s, AttachOptions{LastSeq: 0, Direct: func([]byte, int64) bool {
		calls.Add(1)
		return true
	}})
	ref := collect(t, attach(t, s, AttachOptions{LastSeq: 0}))
	input(t, a, "echo ONE-$((1+1))\n")
	ref.waitFor("ONE-2")
	if n := calls.Load(); n != 0 {
		t.Fatalf("direct offered %d times before the reader ever waited", n)
	}
	// The reader takes a chunk and holds it.
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if _, err := a.Next(ctx); err != nil {
		t.Fatal(err)
	}
	input(t, a, "echo TWO-$((1+2))\n")
	ref.waitFor("TWO-3")
	if n := calls.Load(); n != 0 {
		t.Fatalf("direct offered %d times while the reader held a chunk", n)
	}
	var got []byte
	for !bytes.Contains(got, []byte("TWO-3")) {
		ch, err := a.Next(ctx)
		if err != nil {
			t.Fatalf("%v; got %q", err, got)
		}
		got = append(got, ch.Data...)
	}
}

// Input that races the end of the session (its terminal already closed)
// is refused as ErrClosed, which the front-ends report as an ended
// session, never as an internal error.
func TestInputAfterTerminalClosed(t *testing.T) {
	m := NewManager(Config{}, nil, nil)
	s := &Session{m: m, log: m.log, screen: screen{term: vt.New(80, 24, 0)}, ring: newRing(m.cfg.RingBytes), cols: 80, rows: 24}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s.master = w
	if s.rawMaster, err = w.SyscallConn(); err != nil {
		t.Fatal(err)
	}
	a, err := s.Attach(AttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.closeMaster()
	// TryWrite goes through the RawConn, whose error for a closed file is
	// not os.ErrClosed; Write through the *os.File, whose error is.
	if _, err := a.TryWrite([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("TryWrite after close: %v, want ErrClosed", err)
	}
	if _, err := a.Write([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after close: %v, want ErrClosed", err)
	}
}
