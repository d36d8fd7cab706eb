package vt

import (
	"fmt"
	"strings"
	"testing"
)

// cellView is a cell with cluster ids resolved and written spaces folded
// into blanks, so two terminals compare equal when they look the same.
type cellView struct {
	text       string
	wide, cont bool
	st         style
}

func (t *Terminal) viewRow(row []cell) []cellView {
	out := make([]cellView, len(row))
	for i, c := range row {
		v := cellView{wide: c.ch&chWide != 0, cont: c.ch&chCont != 0, st: c.st}
		if !v.cont && !c.blank() {
			v.text = string(t.appendCellText(nil, c))
		}
		out[i] = v
	}
	return out
}

func (t *Terminal) viewScreen(s *screen) [][]cellView {
	out := make([][]cellView, len(s.lines))
	for y := range s.lines {
		out[y] = t.viewRow(s.row(y))
	}
	return out
}

// state is everything a repaint must reproduce.
type state struct {
	cols, rows  int
	x, y        int
	wrapPending bool
	pen         style
	top, bot    int
	cs          charsets
	modes       modes
	cursorStyle int
	title       string
	tabs        string
	alt         bool
	altMode     int
	priSaved    savedCursor
	altSaved    savedCursor
}

func (t *Terminal) state() state {
	s := state{
		cols: t.cols, rows: t.rows, x: t.x, y: t.y, wrapPending: t.wrapPending,
		pen: t.pen, top: t.top, bot: t.bot, cs: t.cs, modes: t.modes,
		cursorStyle: t.cursorStyle, title: t.title, alt: t.AltScreen(),
		priSaved: t.pri.saved,
	}
	var tabs strings.Builder
	for _, on := range t.tabs {
		if on {
			tabs.WriteByte('|')
		} else {
			tabs.WriteByte('.')
		}
	}
	s.tabs = tabs.String()
	if s.alt {
		s.altMode = t.altMode
		s.altSaved = t.alt.saved
	}
	return s
}

func diffRows(a, b [][]cellView) string {
	for y := range a {
		if y >= len(b) {
			return fmt.Sprintf("row %d missing", y)
		}
		for x := range a[y] {
			if x >= len(b[y]) || a[y][x] != b[y][x] {
				var bv cellView
				if x < len(b[y]) {
					bv = b[y][x]
				}
				return fmt.Sprintf("cell (%d,%d): want %+v got %+v", x, y, a[y][x], bv)
			}
		}
	}
	if len(b) != len(a) {
		return "row count differs"
	}
	return ""
}

// checkRoundTrip asserts that repainting a onto a fresh terminal of the
// same size reproduces it, including sbLines lines of scrollback.
func checkRoundTrip(tb testing.TB, a *Terminal, sbLines int, input []byte) {
	tb.Helper()
	checkInvariants(tb, a, input)
	r := a.AppendRepaint(nil, sbLines)
	b := New(a.cols, a.rows, max(sbLines, 1))
	b.Write(r)
	fail := func(format string, args ...any) {
		tb.Helper()
		tb.Fatalf("round trip: "+format+"\ninput: %q\nrepaint: %q", append(args, trunc(input), trunc(r))...)
	}
	checkInvariants(tb, b, r)
	if sa, sb := a.state(), b.state(); sa != sb {
		fail("state differs\nwant %+v\ngot  %+v", sa, sb)
	}
	if d := diffRows(a.viewScreen(a.pri), b.viewScreen(b.pri)); d != "" {
		fail("primary screen: %s\nwant:\n%s\ngot:\n%s", d, a.dumpScreen(a.pri), b.dumpScreen(b.pri))
	}
	if wa, wb := wraps(a.pri), wraps(b.pri); wa != wb {
		fail("primary screen soft wraps: want %s got %s\n%s", wa, wb, a.dumpScreen(a.pri))
	}
	if a.AltScreen() {
		if d := diffRows(a.viewScreen(a.alt), b.viewScreen(b.alt)); d != "" {
			fail("alternate screen: %s\nwant:\n%s\ngot:\n%s", d, a.dumpScreen(a.alt), b.dumpScreen(b.alt))
		}
		if wa, wb := wraps(a.alt), wraps(b.alt); wa != wb {
			fail("alternate screen soft wraps: want %s got %s\n%s", wa, wb, a.dumpScreen(a.alt))
		}
	}
	n := min(sbLines, a.ScrollbackLen())
	if b.ScrollbackLen() != n {
		fail("scrollback: want %d lines, got %d", n, b.ScrollbackLen())
	}
	for i := 0; i < n; i++ {
		line := a.sb.line(a.ScrollbackLen() - n + i)
		if len(line) > a.cols {
			line = line[:a.cols]
		}
		want := [][]cellView{trimView(a.viewRow(line))}
		got := [][]cellView{trimView(b.viewRow(b.sb.line(i)))}
		if d := diffRows(want, got); d != "" {
			fail("scrollback line %d: %s", i, d)
		}
		if wa, wb := a.sb.wrapped(a.ScrollbackLen()-n+i), b.sb.wrapped(i); wa != wb {
			fail("scrollback line %d: soft wrap %v, got %v", i, wa, wb)
		}
	}
}

// wraps shows which rows of s are soft wrapped, as ".w..".
func wraps(s *screen) string {
	b := make([]byte, len(s.lines))
	for y, r := range s.lines {
		b[y] = '.'
		if r.wrapped {
			b[y] = 'w'
		}
	}
	return string(b)
}

func trimView(v []cellView) []cellView {
	for len(v) > 0 && v[len(v)-1] == (cellView{}) {
		v = v[:len(v)-1]
	}
	if len(v) > 0 && v[len(v)-1].wide {
		v[len(v)-1] = cellView{st: v[len(v)-1].st}
		return trimView(v)
	}
	return v
}

func trunc(b []byte) string {
	const max = 2000
	if len(b) > max {
		return fmt.Sprintf("%q...(%d bytes)", b[:max], len(b))
	}
	return fmt.Sprintf("%q", b)
}

func (t *Terminal) dumpScreen(s *screen) string {
	var sb strings.Builder
	for y := range s.lines {
		sb.WriteString(t.rowText(s.row(y)))
		sb.WriteString("|\n")
	}
	return sb.String()
}

func (t *Terminal) screenText() string {
	var sb strings.Builder
	for y := 0; y < t.rows; y++ {
		sb.WriteString(t.LineText(y))
		sb.WriteByte('\n')
	}
	return sb.String()
}

func newWith(cols, rows int, input string) *Terminal {
	t := New(cols, rows, 100)
	t.Write([]byte(input))
	return t
}

// checkInvariants verifies the structural promises the repaint and the
// scrollback rely on.
func checkInvariants(tb testing.TB, t *Terminal, input []byte) {
	tb.Helper()
	if t.x < 0 || t.x >= t.cols || t.y < 0 || t.y >= t.rows {
		tb.Fatalf("cursor (%d,%d) outside %dx%d; input %s", t.x, t.y, t.cols, t.rows, trunc(input))
	}
	for _, s := range []*screen{t.pri, t.alt} {
		if s == nil || (s == t.alt && t.scr != t.alt) {
			continue
		}
		for y, ref := range s.lines {
			row := s.row(y)
			for x, c := range row {
				if x >= int(ref.hi) && ((c.ch&^' ')|c.st.fg|c.st.bg) != 0 {
					tb.Fatalf("row %d: cell %d beyond hi %d holds %+v; input %s", y, x, ref.hi, c, trunc(input))
				}
				if c.ch&chWide != 0 && (x+1 >= len(row) || row[x+1].ch&chCont == 0) {
					tb.Fatalf("row %d: wide cell %d without continuation; input %s", y, x, trunc(input))
				}
				if c.ch&chCont != 0 && (x == 0 || row[x-1].ch&chWide == 0) {
					tb.Fatalf("row %d: orphan continuation at %d; input %s", y, x, trunc(input))
				}
			}
		}
	}
}
