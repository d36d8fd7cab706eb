package sessions

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"

	"github.com/codeterm/codeterm/sessions/vt"
)

// TestScreenCatchesUp feeds output in pieces of every size, small (fed by
// the pump) and large (left to the feeder), through a ring small enough that
// the pump must sometimes catch the emulator up itself, and checks that every
// repaint equals the one of an emulator fed synchronously.
func TestScreenCatchesUp(t *testing.T) {
	text := bytes.ReplaceAll(terminalText(2<<20), []byte("\n"), []byte("\r\n"))
	text = append(text, "\x1b]2;the end\x07"...)
	m := NewManager(Config{RingBytes: 64 << 10}, nil, nil)
	s := &Session{m: m, log: m.log, screen: screen{term: vt.New(100, 30, 200)}, ring: newRing(m.cfg.RingBytes), cols: 100, rows: 30}
	want := vt.New(100, 30, 200)
	rnd := rand.New(rand.NewPCG(1, 2))
	var got, exp []byte
	check := func(at int) {
		s.mu.Lock()
		got = s.lockScreen().AppendRepaint(got[:0], 200)
		s.screen.mu.Unlock()
		s.mu.Unlock()
		exp = want.AppendRepaint(exp[:0], 200)
		if !bytes.Equal(got, exp) {
			t.Fatalf("at %d: repaint differs from a synchronously fed emulator", at)
		}
	}
	for p, at := text, 0; len(p) > 0; {
		n := min(len(p), []int{1, 30, inlineFeed, inlineFeed + 1, 4 << 10, 16 << 10, 100 << 10}[rnd.IntN(7)])
		s.publish(p[:n], nil)
		want.Write(p[:n])
		p, at = p[n:], at+n
		if rnd.IntN(20) == 0 {
			check(at)
		}
	}
	check(len(text))
	if title := s.Info().Title; title != "the end" {
		t.Fatalf("title %q", title)
	}
	s.screen.feeders.Wait()
	if f := s.screen.fed.Load(); f != int64(len(text)) {
		t.Fatalf("fed %d of %d", f, len(text))
	}
}

// TestScrollbackOnce: a client that keeps its own history (SSH) gets the
// session's in front of its first repaint only; a later repaint (after it
// fell behind) would add the same lines to its history again. A browser's
// repaints all carry it.
func TestScrollbackOnce(t *testing.T) {
	env := newTestEnv(t, Config{})
	s := env.create(0)
	w := attach(t, s, AttachOptions{LastSeq: -1})
	cw := collect(t, w)
	input(t, w, "for i in $(seq 1 100); do echo hist-$i; done\n")
	cw.waitFor("hist-100\r\n")
	for _, once := range []bool{true, false} {
		a := attach(t, s, AttachOptions{LastSeq: -1, ReadOnly: true, Scrollback: 1000, ScrollbackOnce: once})
		for i := 0; i < 2; i++ {
			c, err := a.Next(context.Background())
			if err != nil || c.Kind != ChunkRepaint {
				t.Fatalf("repaint %d: %v %v", i, c.Kind, err)
			}
			want := i == 0 || !once
			if got := bytes.Contains(c.Data, []byte("hist-1\r\n")); got != want {
				t.Errorf("once=%v: repaint %d has the scrollback: %v, want %v", once, i, got, want)
			}
			a.mu.Lock()
			a.repaint = true // as when the client falls behind
			a.mu.Unlock()
		}
	}
}
