package sessions

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/codeterm/codeterm/sessions/vt"
)

// packedForTest reports whether the idle timer has packed the screen.
func (s *Session) packedForTest() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.screen.mu.Lock()
	defer s.screen.mu.Unlock()
	return s.screen.packed && s.screen.term.Packed()
}

// waitPacked waits until the session's idle timer has packed its screen.
func waitPacked(t *testing.T, s *Session) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		if s.packedForTest() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the idle screen was never packed")
		}
		waitABit()
	}
}

// replayed is the session's screen rebuilt from all its output: what a
// packed screen must come back as.
func replayed(t *testing.T, s *Session, cols, rows, scrollback int) (*vt.Terminal, int64) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	a, b, ok := s.ring.slices(0)
	if !ok {
		t.Fatal("the ring no longer holds the output from the start")
	}
	term := vt.New(cols, rows, scrollback)
	term.Write(a)
	term.Write(b)
	return term, s.seq
}

// A screen left idle is packed, and whoever needs it next (a late joiner's
// repaint with scrollback, an SSH client's view, more output) gets exactly
// what the unpacked emulator would have given, again and again.
func TestIdleScreenPacked(t *testing.T) {
	t.Parallel()
	const sb = 50
	e := newTestEnv(t, Config{PackAfter: 20 * time.Millisecond, Scrollback: sb})
	s := e.create(0)
	a := collect(t, attach(t, s, AttachOptions{LastSeq: -1, Cols: 80, Rows: 24}))
	input(t, a.a, `i=0; while [ $i -lt 40 ]; do printf '\033[3%dm\033[4%dmline-%02d\033[m wide-\344\270\226 e\314\201 %0*d\n' $((i%8)) $((i%3)) $i $((i*3)) 0; i=$((i+1)); done; `+
		`printf '\033[?2004h\033[?1h\033[5 q\033]2;title-x\007\033[1;38;2;10;20;30mbold-rgb'; echo; echo done-$((6*7))`+"\n")
	a.waitFor("done-42")
	for round := range 3 {
		waitPacked(t, s)
		want, seq := replayed(t, s, 80, 24, sb)
		late := collect(t, attach(t, s, AttachOptions{LastSeq: -1, Scrollback: sb}))
		first := late.chunk0()
		if first.Kind != ChunkRepaint || first.Seq != seq {
			t.Fatalf("round %d: late joiner's first chunk is %v at %d, want a repaint at %d", round, first.Kind, first.Seq, seq)
		}
		if w := want.AppendRepaint(nil, sb); !bytes.Equal(first.Data, w) {
			t.Fatalf("round %d: repaint of the packed screen\n got %q\nwant %q", round, first.Data, w)
		}
		waitPacked(t, s)
		view := collect(t, attach(t, s, AttachOptions{LastSeq: -1, Cols: 40, Rows: 10, Viewport: true, ReadOnly: true}))
		if got, w := view.chunk0().Data, want.AppendView(nil, 40, 10); !bytes.Equal(got, w) {
			t.Fatalf("round %d: view of the packed screen\n got %q\nwant %q", round, got, w)
		}
		late.a.Close()
		view.a.Close()
		waitPacked(t, s)
		input(t, a.a, "echo again-$((2*3))-"+strings.Repeat("x", round)+"\n")
		a.waitFor("again-6-" + strings.Repeat("x", round) + "\r\n")
	}
	if got := s.Info().Title; got != "title-x" {
		t.Errorf("title %q", got)
	}
}
