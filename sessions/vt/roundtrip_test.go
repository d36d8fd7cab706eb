package vt

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

// fullScreenSession synthesises what vi and less write: alternate screen,
// margins, reverse video status lines, scrolling inside a region, insert
// and delete lines, colour syntax highlighting and a title.
func fullScreenSession(cols, rows int) string {
	var b strings.Builder
	b.WriteString("$ ls --color\r\n\x1b[01;34mdir\x1b[0m  \x1b[01;32mrun.sh\x1b[0m  file.txt\r\n$ vi main.go\r\n")
	b.WriteString("\x1b]2;vi main.go\x07\x1b[?1049h\x1b[22;0;0t\x1b[?1h\x1b=\x1b[H\x1b[2J\x1b[?2004h\x1b[?1002h\x1b[?1006h")
	b.WriteString(fmt.Sprintf("\x1b[1;%dr", rows-2))
	for y := 1; y <= rows-2; y++ {
		b.WriteString(fmt.Sprintf("\x1b[%d;1H\x1b[33m%3d \x1b[m", y, y))
		switch y % 4 {
		case 0:
			b.WriteString("\x1b[38;5;81mfunc\x1b[m \x1b[1mmain\x1b[m() {")
		case 1:
			b.WriteString("\t\x1b[38:2::200:100:50mfmt\x1b[m.Println(\x1b[31m\"héllo, 世界 😀\"\x1b[m)")
		case 2:
			b.WriteString("\x1b[44m" + strings.Repeat("=", cols) + "\x1b[m")
		case 3:
			b.WriteString("}\x1b[K")
		}
	}
	b.WriteString(fmt.Sprintf("\x1b[%d;1H\x1b[7m main.go [+] \x1b[27m\x1b[K", rows-1))
	b.WriteString(fmt.Sprintf("\x1b[%d;1H-- INSERT --\x1b[K", rows))
	// scroll the text region: delete a line, insert two, reverse index
	b.WriteString("\x1b[3;1H\x1b[M\x1b[5;1H\x1b[2L\x1b[1;1H\x1bM\x1b[32mnew top\x1b[m")
	b.WriteString(fmt.Sprintf("\x1b[%d;1H\n\n\x1b[4;5H\x1b[4h+\x1b[4l\x1b[2P\x1b[3X", rows-2))
	b.WriteString("\x1b[6 q\x1b[?25l\x1b[2;7H\x1b[?25h\x1b[1;3;4:3;38;5;196m")
	return b.String()
}

func lessSession(cols, rows int) string {
	var b strings.Builder
	for i := 0; i < rows*3; i++ {
		b.WriteString(fmt.Sprintf("log line %d %s\r\n", i, strings.Repeat("-", i%cols)))
	}
	b.WriteString("\x1b[?1049h\x1b[?1h\x1b=\r")
	for i := 0; i < rows-1; i++ {
		b.WriteString(fmt.Sprintf("page line %d\r\n", i))
	}
	b.WriteString("\x1b[7m:\x1b[27m\x1b[K\r\x1b[K")
	for i := 0; i < 3; i++ {
		b.WriteString(fmt.Sprintf("more %d\r\n", i))
	}
	b.WriteString("\x1b[7mlines 1-20\x1b[27m")
	return b.String()
}

func TestRoundTripSessions(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {40, 10}, {132, 50}, {5, 3}, {1, 1}} {
		cols, rows := sz[0], sz[1]
		inputs := map[string]string{
			"vi":       fullScreenSession(cols, rows),
			"vi-exit":  fullScreenSession(cols, rows) + "\x1b[r\x1b[?1049l\x1b[?1l\x1b>\x1b[0 q$ ",
			"less":     lessSession(cols, rows),
			"less-end": lessSession(cols, rows) + "\r\x1b[K\x1b[?1l\x1b>\x1b[?1049l",
		}
		for name, in := range inputs {
			t.Run(fmt.Sprintf("%s-%dx%d", name, cols, rows), func(t *testing.T) {
				term := New(cols, rows, 1000)
				term.Write([]byte(in))
				for _, sb := range []int{0, 5, 1000} {
					checkRoundTrip(t, term, sb, []byte(in))
				}
			})
		}
	}
	term := New(80, 24, 100)
	term.Write([]byte(fullScreenSession(80, 24)))
	if !term.AltScreen() || term.Title() != "vi main.go" || term.LineText(23) != "-- INSERT --" {
		t.Errorf("vi session state: alt=%v title=%q row23=%q", term.AltScreen(), term.Title(), term.LineText(23))
	}
}

// TestChunking feeds the same input split into chunks of every size and
// requires identical screens: escape sequences, OSC strings and UTF-8 may be
// cut at any byte.
func TestChunking(t *testing.T) {
	inputs := []string{
		fullScreenSession(40, 12),
		lessSession(30, 8),
		"a\xe4\xb8\x96\xf0\x9f\x98\x80b\xe2\x82(\xc3\x28\xf0\x9f\x98\xe2\x82\xac\xed\xa0\x80\xc0\xafz",
		"\x1b]0;tïtle\x1b\\\x1bP$q\"p\x1b\\\x1b[38:2::1:2:3mX\x1b(0lqk\x1b(B\x1b[?1049h",
	}
	for i, in := range inputs {
		whole := New(40, 12, 100)
		whole.Write([]byte(in))
		want := whole.AppendRepaint(nil, 100)
		for size := 1; size <= 64 && size <= len(in); size++ {
			term := New(40, 12, 100)
			for off := 0; off < len(in); off += size {
				term.Write([]byte(in[off:min(off+size, len(in))]))
			}
			if got := term.AppendRepaint(nil, 100); string(got) != string(want) {
				t.Fatalf("input %d chunk %d: screens differ\nwant:\n%s\ngot:\n%s", i, size, whole.screenText(), term.screenText())
			}
			if term.state() != whole.state() {
				t.Fatalf("input %d chunk %d: state differs", i, size)
			}
		}
	}
}

// randomInput builds a stream biased towards the sequences the emulator
// understands, mixed with raw garbage.
func randomInput(rng *rand.Rand, n int) []byte {
	words := []string{
		"hello", " ", "世界", "😀", "e\u0301", "\u200d", "\t", "\r", "\n", "\r\n", "\b", "\x0e", "\x0f",
		"\x1b7", "\x1b8", "\x1bD", "\x1bE", "\x1bM", "\x1bH", "\x1b=", "\x1b>", "\x1b(0", "\x1b(B", "\x1b)0", "\x1b#8",
		"\x1b]2;title\x07", "\x1b]0;t\x1b\\", "\x1bPq#0\x1b\\", "\x1b_x\x1b\\", "\x18", "\x1a", "\xff", "\xe4\xb8",
		"\x1b[?1049h", "\x1b[?1049l", "\x1b[?1047h", "\x1b[?1047l", "\x1b[?47h", "\x1b[?47l", "\x1b[?1048h", "\x1b[?1048l",
		"\x1b[?7l", "\x1b[?7h", "\x1b[?6h", "\x1b[?6l", "\x1b[?25l", "\x1b[?25h", "\x1b[4h", "\x1b[4l", "\x1b[20h", "\x1b[20l",
		"\x1b[?1000h", "\x1b[?1003h", "\x1b[?1006h", "\x1b[?1005h", "\x1b[?2004h", "\x1b[?1004h", "\x1b[?1h", "\x1b[?5h", "\x1b[?12h",
		"\x1b[!p", "\x1bc", "\x1b[3g", "\x1b[g", "\x1b[2 q", "\x1b[3J", "\x1b[?40h", "\x1b[?3h", "\x1b[?3l",
		"\x1b[?7l", "\x1b[?7h", "\x1b[?7h", "The quick brown fox jumps over the lazy dog. ", "世界世界世界世界世界",
	}
	finals := "@ABCDEFGHIJKLMPSTXZ`abdefgrsum"
	var b []byte
	for len(b) < n {
		switch rng.Intn(6) {
		case 0, 1:
			b = append(b, words[rng.Intn(len(words))]...)
		case 2:
			b = append(b, "\x1b["...)
			for k := rng.Intn(3); k > 0; k-- {
				b = fmt.Appendf(b, "%d;", rng.Intn(30))
			}
			if rng.Intn(2) == 0 {
				b = fmt.Appendf(b, "%d", rng.Intn(12))
			}
			b = append(b, finals[rng.Intn(len(finals))])
		case 3:
			sgr := []string{"0", "1", "2", "3", "4", "4:3", "5", "7", "8", "9", "21", "22", "24", "27", "31", "42", "97", "104", "39", "49",
				"38;5;123", "48;5;9", "38;2;1;2;3", "48:2::4:5:6", "53", "58;5;3"}
			b = append(b, "\x1b["...)
			for k := rng.Intn(3) + 1; k > 0; k-- {
				b = append(b, sgr[rng.Intn(len(sgr))]...)
				if k > 1 {
					b = append(b, ';')
				}
			}
			b = append(b, 'm')
		case 4:
			for k := rng.Intn(20); k > 0; k-- {
				b = append(b, byte(0x20+rng.Intn(0x5f)))
			}
		case 5:
			for k := rng.Intn(4); k > 0; k-- {
				b = append(b, byte(rng.Intn(256)))
			}
		}
	}
	return b
}

func TestRoundTripRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	iters := 3000
	if testing.Short() {
		iters = 300
	}
	for i := 0; i < iters; i++ {
		cols, rows := 1+rng.Intn(30), 1+rng.Intn(12)
		in := randomInput(rng, rng.Intn(600))
		term := New(cols, rows, 20)
		term.Write(in)
		if rng.Intn(4) == 0 {
			term.Resize(1+rng.Intn(30), 1+rng.Intn(12))
			term.Write(randomInput(rng, 100))
		}
		checkRoundTrip(t, term, 20, in)
	}
}

func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte(fullScreenSession(20, 6)), uint8(20), uint8(6))
	f.Add([]byte(lessSession(10, 4)), uint8(10), uint8(4))
	f.Add([]byte("abc\x1b[?1049h\x1b[2;3r\x1b[?6h世\x1b[44m\x1b[K"), uint8(5), uint8(3))
	// Soft wraps on the screen and into scrollback, an empty continuation,
	// a wide character at the margin, autowrap turned off and on.
	f.Add([]byte("$ 0123456789abcdefghij\r\n0123456789\b \r\n\x1b[44m123456789世\x1b[m\r\n"+
		"\x1b[?7lno wrap here at all\x1b[?7h\r\nsoft wrap again and again"), uint8(10), uint8(4))
	f.Add([]byte("\x1b[?1049h\x1b[2;3rwrapping inside a region\x1bM\x1b[Lmore"), uint8(7), uint8(4))
	rng := rand.New(rand.NewSource(2))
	for i := 0; i < 20; i++ {
		f.Add(randomInput(rng, 300), uint8(rng.Intn(40)), uint8(rng.Intn(15)))
	}
	f.Fuzz(func(t *testing.T, in []byte, c, r uint8) {
		cols, rows := int(c%64)+1, int(r%32)+1
		term := New(cols, rows, 10)
		term.Write(in)
		checkRoundTrip(t, term, 10, in)
		// The repaint of the repaint is the same screen too.
		b := New(cols, rows, 10)
		b.Write(term.AppendRepaint(nil, 10))
		checkRoundTrip(t, b, 10, in)
	})
}

// TestRepaintModesOneEach: every mode that is on comes as a sequence of its
// own, as programs send them, so a script waiting for a shell's bracketed
// paste ("\x1b[?2004h") finds it in a repaint as in the live stream.
func TestRepaintModesOneEach(t *testing.T) {
	term := New(80, 24, 0)
	term.Write([]byte("\x1b[?2004h\x1b[?1h$ "))
	got := string(term.AppendRepaint(nil, 0))
	for _, want := range []string{"\x1b[?2004h", "\x1b[?1h", "\x1b[?7h"} {
		if !strings.Contains(got, want) {
			t.Errorf("repaint lacks %q: %q", want, got)
		}
	}
}

// TestRepaintSoftWraps: a line longer than the screen is width is one
// logical line on the screen and in scrollback; the repaint writes it
// through the right margin so the client wraps it itself, and never wraps
// where the first client did not.
func TestRepaintSoftWraps(t *testing.T) {
	long := strings.Repeat("0123456789", 3) + "xy" // 32 chars: 3 rows of 10 plus 2
	cases := []struct {
		name, in string
		want     string // wraps() of the primary screen
		sbWraps  []bool
	}{
		{"on screen", "$ " + long + "\r\n$ ", "www...", nil},
		{"empty continuation", strings.Repeat("a", 10) + "b\b \r\n", "w.....", nil},
		{"wide char at the margin", "123456789世界\r\n", "w.....", nil},
		{"into scrollback", long + "\r\n" + long + "\r\n" + "tail", ".www..", []bool{true, true, true}},
		{"hard line ends", "0123456789\r\n0123456789", "......", nil},
		{"erased continuation", "$ " + long + "\x1b[2;1H\x1b[2K", "..w...", nil},
		{"autowrap off", "\x1b[?7l" + long + "\r\n", "......", nil},
		{"at the bottom of the screen", "\x1b[6;1H" + long, "..www.", nil},
		{"below the scroll region", "\x1b[1;3r\x1b[6;1H" + long, "......", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			term := New(10, 6, 100)
			term.Write([]byte(tc.in))
			if got := wraps(term.pri); got != tc.want {
				t.Errorf("soft wraps %s, want %s\n%s", got, tc.want, term.dumpScreen(term.pri))
			}
			for i, w := range tc.sbWraps {
				if term.sb.wrapped(i) != w {
					t.Errorf("scrollback line %d soft wrap %v, want %v", i, !w, w)
				}
			}
			checkRoundTrip(t, term, 100, []byte(tc.in))
		})
	}
}

// TestRepaintModesForEveryTerminal: tmux drops a control sequence whose
// parameters pass 63 bytes or 23 numbers, and ignores DECNKM (CSI ?66h);
// the repaint stays within what xterm, tmux and xterm.js all accept, so
// autowrap off and the application keypad survive on every client.
func TestRepaintModesForEveryTerminal(t *testing.T) {
	term := New(80, 24, 0)
	term.Write([]byte("\x1b[?7l\x1b=\x1b[?1h\x1b[?2004h\x1b[?1006h\x1b[?1002h\x1b[?1004h$ "))
	got := string(term.AppendRepaint(nil, 0))
	for _, want := range []string{"\x1b[?7l", "\x1b=", "\x1b[?1h", "\x1b[?2004h", "\x1b[?1002h", "\x1b[?1006h"} {
		if !strings.Contains(got, want) {
			t.Errorf("repaint lacks %q: %q", want, got)
		}
	}
	if strings.Contains(got, "?66") {
		t.Errorf("repaint uses DECNKM, which tmux ignores: %q", got)
	}
	for _, seq := range strings.Split(got, "\x1b[")[1:] {
		params := strings.TrimLeft(seq, "?")
		end := strings.IndexFunc(params, func(r rune) bool { return r >= 0x40 && r <= 0x7e })
		if end > 63 || strings.Count(params[:max(end, 0)], ";") >= 23 {
			t.Errorf("control sequence too long for tmux: %q", seq[:end+1])
		}
	}
	term.Write([]byte("\x1b>"))
	if got := string(term.AppendRepaint(nil, 0)); !strings.Contains(got, "\x1b>") {
		t.Errorf("repaint lacks the numeric keypad (ESC >): %q", got)
	}
}

// TestColumnMode: DECCOLM acts only once mode 40 allows it, as in xterm,
// and then clears the screen and margins without changing the width.
func TestColumnMode(t *testing.T) {
	term := New(20, 5, 0)
	term.Write([]byte("keep\x1b[2;4r\x1b[?3h"))
	if term.LineText(0) != "keep" {
		t.Fatalf("DECCOLM without mode 40 erased the screen: %q", term.LineText(0))
	}
	term.Write([]byte("\x1b[?40h\x1b[3;3H\x1b[?3h"))
	if x, y := term.CursorPos(); term.LineText(0) != "" || x != 0 || y != 0 || term.top != 0 || term.bot != 4 {
		t.Fatalf("DECCOLM with mode 40: row 0 %q, cursor (%d,%d), margins %d-%d", term.LineText(0), x, y, term.top, term.bot)
	}
	if c, r := term.Size(); c != 20 || r != 5 {
		t.Fatalf("DECCOLM resized the terminal to %dx%d", c, r)
	}
	checkRoundTrip(t, term, 0, nil)
}

// TestView: a client of another size sees the part of the screen that fits,
// panned to keep the cursor in sight, with the modes that change its input.
func TestView(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	for i := 0; i < 2000; i++ {
		cols, rows := 1+rng.Intn(30), 1+rng.Intn(12)
		in := randomInput(rng, rng.Intn(600))
		a := New(cols, rows, 20)
		a.Write(in)
		vc, vr := 1+rng.Intn(40), 1+rng.Intn(16)
		b := New(vc, vr, 0)
		b.Write(randomInput(rng, 200)) // what the client showed before: all painted over
		r := a.AppendView(nil, vc, vr)
		if strings.Contains(string(r), "\x1b[2J") {
			t.Fatalf("a view clears the screen, which tmux moves into its history: %q", r)
		}
		b.Write(r)
		ox, oy := max(a.x-vc+1, 0), max(a.y-vr+1, 0)
		blink, _ := passMode(12) // a user preference, left alone unless set
		if b.x != a.x-ox || b.y != a.y-oy || b.modes.hidden != a.modes.hidden || b.AltScreen() != a.AltScreen() ||
			b.modes.flags&^blink != a.modes.flags&^blink || b.modes.mouse != a.modes.mouse || b.modes.autowrap != a.modes.autowrap {
			t.Fatalf("%dx%d seen at %dx%d: state %+v, want cursor (%d,%d) of %+v\ninput %s\nview %q",
				cols, rows, vc, vr, b.state(), a.x-ox, a.y-oy, a.state(), trunc(in), r)
		}
		for y := min(vr, rows-oy); y < vr; y++ {
			if got := b.LineText(y); got != "" {
				t.Fatalf("%dx%d seen at %dx%d: row %d below the screen shows %q\ninput %s\nview %q", cols, rows, vc, vr, y, got, trunc(in), r)
			}
		}
		for y := 0; y < min(vr, rows-oy); y++ {
			want, got := a.viewRow(a.scr.row(oy+y)), b.viewRow(b.scr.row(y))
			for x := 0; x < min(vc, cols-ox); x++ {
				w := want[ox+x]
				if (w.wide || w.cont) && (x == 0 || x == vc-1) {
					continue // cut by the window's edge
				}
				if w != got[x] {
					t.Fatalf("%dx%d seen at %dx%d from (%d,%d): cell (%d,%d) = %+v, want %+v\ninput %s\nview %q\nwant:\n%sgot:\n%s",
						cols, rows, vc, vr, ox, oy, x, y, got[x], w, trunc(in), r, a.dumpScreen(a.scr), b.dumpScreen(b.scr))
				}
			}
		}
	}
}
