package sessions

import (
	"bytes"
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
