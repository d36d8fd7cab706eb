package vt

import (
	"bytes"
	"fmt"
	"math/rand"
	"reflect"
	"strings"
	"testing"
)

// rawTerminal is everything a terminal holds that packing touches, cell for
// cell (not folded like cellView: a packed terminal must come back exactly,
// not just look the same), plus the state a repaint restores.
type rawTerminal struct {
	st       state
	pri, alt [][]cell
	priRefs  []rowRef // hi and wrapped, without the offsets
	altRefs  []rowRef
	sb       [][]cell
	sbWraps  []bool
	clusters []string
	sbMax    int
}

func rawScreen(s *screen) ([][]cell, []rowRef) {
	if s == nil {
		return nil, nil
	}
	rows := make([][]cell, len(s.lines))
	refs := make([]rowRef, len(s.lines))
	for y := range s.lines {
		rows[y] = append([]cell(nil), s.row(y)...)
		refs[y] = rowRef{hi: s.lines[y].hi, wrapped: s.lines[y].wrapped}
	}
	return rows, refs
}

func (t *Terminal) raw() rawTerminal {
	t.unpack()
	t.unpackScrollback()
	r := rawTerminal{st: t.state(), clusters: append([]string(nil), t.clusters...), sbMax: t.sb.max}
	r.st.altMode = t.altMode
	r.pri, r.priRefs = rawScreen(t.pri)
	r.alt, r.altRefs = rawScreen(t.alt)
	for i := 0; i < t.sb.len(); i++ {
		r.sb = append(r.sb, append([]cell(nil), t.sb.line(i)...))
		r.sbWraps = append(r.sbWraps, t.sb.wrapped(i))
	}
	return r
}

// checkPack packs a terminal that was fed in, against a twin that never is,
// and checks that the packed one comes back cell for cell, repaints the
// same, and goes on exactly like the twin with more output.
func checkPack(t *testing.T, cols, rows, sb int, in, more []byte) {
	t.Helper()
	a, b := New(cols, rows, sb), New(cols, rows, sb)
	a.Write(in)
	b.Write(in)
	sbLen := a.ScrollbackLen()
	a.Pack()
	if !a.Packed() || a.pri.cells != nil || (a.alt != nil && a.alt.cells != nil) || a.sb.len() != 0 || (a.sbPk != nil) != (sbLen > 0) {
		t.Fatalf("not packed: %v", a.Packed())
	}
	if a.ScrollbackLen() != sbLen || a.Title() != b.Title() || a.AltScreen() != b.AltScreen() {
		t.Fatalf("packed terminal answers differently: scrollback %d/%d", a.ScrollbackLen(), sbLen)
	}
	if got, want := a.AppendRepaint(nil, sb), b.AppendRepaint(nil, sb); string(got) != string(want) {
		t.Fatalf("repaint after packing differs\ninput: %q\ngot  %q\nwant %q", trunc(in), trunc(got), trunc(want))
	}
	if a.Packed() {
		t.Fatal("still packed after a repaint")
	}
	if ra, rb := a.raw(), b.raw(); !reflect.DeepEqual(ra, rb) {
		t.Fatalf("unpacked terminal differs\ninput: %q\ngot  %+v\nwant %+v", trunc(in), ra, rb)
	}
	// Packed again: a repaint without history leaves the scrollback
	// packed.
	a.Pack()
	if got, want := a.AppendRepaint(nil, 0), b.AppendRepaint(nil, 0); string(got) != string(want) {
		t.Fatalf("repaint without scrollback after packing differs\ninput: %q", trunc(in))
	}
	if (a.sbPk != nil) != (sbLen > 0) || a.ScrollbackLen() != sbLen {
		t.Fatalf("a repaint without scrollback unpacked it (%d lines)", sbLen)
	}
	// Packed again, then written to: the output lands as on the twin,
	// including a sequence split across the pack.
	a.Pack()
	a.Write(more)
	b.Write(more)
	if ra, rb := a.raw(), b.raw(); !reflect.DeepEqual(ra, rb) {
		t.Fatalf("output after packing differs\ninput: %q then %q", trunc(in), trunc(more))
	}
	a.Pack()
	a.Resize(cols+3, rows+1)
	b.Resize(cols+3, rows+1)
	if ra, rb := a.raw(), b.raw(); !reflect.DeepEqual(ra, rb) {
		t.Fatalf("resize after packing differs\ninput: %q then %q", trunc(in), trunc(more))
	}
}

func TestPackSessions(t *testing.T) {
	more := []byte("\x1b]2;half a ti")
	for _, sz := range [][2]int{{80, 24}, {120, 40}, {40, 10}, {5, 3}, {1, 1}} {
		cols, rows := sz[0], sz[1]
		inputs := map[string]string{
			"empty":    "",
			"prompt":   "\x1b]0;alice@host: ~\x07\x1b[?2004h\x1b[01;32malice@host\x1b[00m:\x1b[01;34m~\x1b[00m$ ",
			"vi":       fullScreenSession(cols, rows),
			"vi-exit":  fullScreenSession(cols, rows) + "\x1b[r\x1b[?1049l\x1b[?1l\x1b>\x1b[0 q$ ",
			"less":     lessSession(cols, rows),
			"less-end": lessSession(cols, rows) + "\r\x1b[K\x1b[?1l\x1b>\x1b[?1049l",
			"runs":     "\x1b[44m\x1b[2J\x1b[m" + strings.Repeat("x", cols*2) + "\x1b[41m\x1b[K\r\n" + strings.Repeat("é", 200) + "\x1b[3;1H\x1b[7m" + strings.Repeat(" ", cols),
			"clusters": "e\u0301 a\u0308\u0301 世\u0301 \U0001F44D\U0001F3FD\r\n\x1b[S",
		}
		for name, in := range inputs {
			t.Run(fmt.Sprintf("%s-%dx%d", name, cols, rows), func(t *testing.T) {
				checkPack(t, cols, rows, 100, []byte(in), more)
				checkPack(t, cols, rows, 0, []byte(in), []byte("tle\x07\x1b[1;31mmore\r\n"))
			})
		}
	}
}

func TestPackRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	for i := 0; i < 300; i++ {
		cols, rows := rng.Intn(90)+1, rng.Intn(30)+1
		checkPack(t, cols, rows, rng.Intn(50), randomInput(rng, 1+rng.Intn(3000)), randomInput(rng, rng.Intn(300)))
	}
}

func FuzzPack(f *testing.F) {
	f.Add([]byte(fullScreenSession(20, 6)), []byte("x\x1b[2;2Hy"), uint8(20), uint8(6))
	f.Add([]byte(lessSession(10, 4)), []byte("\x1b]0;ti"), uint8(10), uint8(4))
	f.Add([]byte("\x1b[44m\x1b[2J\x82\x80\x81"), []byte("\x1b[?1049l"), uint8(3), uint8(3))
	rng := rand.New(rand.NewSource(3))
	for i := 0; i < 20; i++ {
		f.Add(randomInput(rng, 300), randomInput(rng, 50), uint8(rng.Intn(40)), uint8(rng.Intn(15)))
	}
	f.Fuzz(func(t *testing.T, in, more []byte, c, r uint8) {
		checkPack(t, int(c%64)+1, int(r%32)+1, 10, in, more)
	})
}

// Output that does not scroll wakes the screen alone; the scrollback stays
// packed until a line scrolls into it, and then holds it after the others.
func TestPackScrollbackStaysPacked(t *testing.T) {
	a, b := New(20, 5, 100), New(20, 5, 100)
	for _, term := range []*Terminal{a, b} {
		term.Write([]byte(lessSession(20, 5) + "\x1b[?1049l\r\n$ "))
	}
	a.Pack()
	for _, term := range []*Terminal{a, b} {
		term.Write([]byte("\x1b7\x1b[1;10H12:00:01\x1b8"))
	}
	if a.Packed() || a.sbPk == nil {
		t.Fatalf("screen packed %v, scrollback packed %v: want only the scrollback", a.Packed(), a.sbPk != nil)
	}
	for _, term := range []*Terminal{a, b} {
		term.Write([]byte("\r\nnext\r\n\r\n\r\n\r\n\r\n"))
	}
	if a.sbPk != nil {
		t.Fatal("scrollback still packed after lines scrolled into it")
	}
	if ra, rb := a.raw(), b.raw(); !reflect.DeepEqual(ra, rb) {
		t.Fatalf("scrollback after packing differs")
	}
}

// A 120x40 shell prompt packs into a few dozen bytes, and a screen full of
// text into about a byte a cell.
func TestPackSize(t *testing.T) {
	term := New(120, 40, 100)
	term.Write([]byte("\x1b[01;32malice@host\x1b[00m:\x1b[01;34m~\x1b[00m$ "))
	term.Pack()
	if n := len(term.pk.pri); n > 200 {
		t.Errorf("prompt packs into %d bytes", n)
	}
	term = New(120, 40, 100)
	term.Write([]byte(lessSession(120, 40)))
	term.Pack()
	if n, cells := len(term.pk.pri)+len(term.pk.alt)+len(term.sbPk.b), 2*120*40; n > cells*2 {
		t.Errorf("text packs into %d bytes for %d cells", n, cells)
	}
}

// BenchmarkPack packs and unpacks a 120x40 terminal with a full scrollback
// of 1000 lines: what a session pays each time it goes idle and wakes.
func BenchmarkPack(b *testing.B) {
	term := New(120, 40, 1000)
	term.Write(bytes.ReplaceAll(typicalText(1<<20), []byte("\n"), []byte("\r\n")))
	b.ReportAllocs()
	for b.Loop() {
		term.Pack()
		term.unpack()
		term.unpackScrollback()
	}
	term.Pack()
	b.ReportMetric(float64(len(term.pk.pri)+len(term.sbPk.b)), "packed-bytes")
	b.ReportMetric(float64(term.sbPk.n), "lines")
}
