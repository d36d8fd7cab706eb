package vt

import (
	"strings"
	"testing"
)

type screenCase struct {
	name   string
	cols   int
	rows   int
	input  string
	want   []string // screen rows, trailing empty rows may be omitted
	cx, cy int
	check  func(t *testing.T, term *Terminal)
}

func runScreenCases(t *testing.T, cases []screenCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			term := newWith(tc.cols, tc.rows, tc.input)
			for y := 0; y < tc.rows; y++ {
				want := ""
				if y < len(tc.want) {
					want = tc.want[y]
				}
				if got := term.LineText(y); got != want {
					t.Errorf("row %d = %q, want %q\nscreen:\n%s", y, got, want, term.screenText())
				}
			}
			if x, y := term.CursorPos(); x != tc.cx || y != tc.cy {
				t.Errorf("cursor = (%d,%d), want (%d,%d)", x, y, tc.cx, tc.cy)
			}
			if tc.check != nil {
				tc.check(t, term)
			}
			// Every case doubles as a repaint round-trip case.
			checkRoundTrip(t, term, 100, []byte(tc.input))
		})
	}
}

func TestCursorMovement(t *testing.T) {
	runScreenCases(t, []screenCase{
		{name: "CUP", cols: 10, rows: 5, input: "\x1b[3;4HX", want: []string{"", "", "   X"}, cx: 4, cy: 2},
		{name: "HVP", cols: 10, rows: 5, input: "\x1b[2;2fX", want: []string{"", " X"}, cx: 2, cy: 1},
		{name: "CUP defaults", cols: 10, rows: 5, input: "abc\x1b[HX", want: []string{"Xbc"}, cx: 1, cy: 0},
		{name: "CUP clamps", cols: 10, rows: 5, input: "\x1b[99;99H", cx: 9, cy: 4},
		{name: "CUP zero is one", cols: 10, rows: 5, input: "\x1b[3;3H\x1b[0;0H", cx: 0, cy: 0},
		{name: "CUU CUD clamp", cols: 10, rows: 5, input: "\x1b[3;3H\x1b[10A", cx: 2, cy: 0},
		{name: "CUD", cols: 10, rows: 5, input: "\x1b[2B\x1b[9B", cx: 0, cy: 4},
		{name: "CUF CUB", cols: 10, rows: 5, input: "\x1b[5C\x1b[2D\x1b[20C", cx: 9, cy: 0},
		{name: "CUB clamps", cols: 10, rows: 5, input: "ab\x1b[20D", want: []string{"ab"}, cx: 0, cy: 0},
		{name: "CNL CPL", cols: 10, rows: 5, input: "abc\x1b[2Exy\x1b[1Fz", want: []string{"abc", "z", "xy"}, cx: 1, cy: 1},
		{name: "CHA HPA VPA", cols: 10, rows: 5, input: "\x1b[5G1\x1b[2`2\x1b[3d3", want: []string{" 2  1", "", "  3"}, cx: 3, cy: 2},
		{name: "HPR VPR", cols: 10, rows: 5, input: "\x1b[2a\x1b[2eX", want: []string{"", "", "  X"}, cx: 3, cy: 2},
		{name: "BS", cols: 10, rows: 5, input: "abc\b\bX", want: []string{"aXc"}, cx: 2, cy: 0},
		{name: "BS at col 0", cols: 10, rows: 5, input: "\bX", want: []string{"X"}, cx: 1, cy: 0},
		{name: "CR LF", cols: 10, rows: 5, input: "ab\r\ncd\ne", want: []string{"ab", "cd", "  e"}, cx: 3, cy: 2},
		{name: "VT FF act as LF", cols: 10, rows: 5, input: "a\vb\fc", want: []string{"a", " b", "  c"}, cx: 3, cy: 2},
		{name: "save restore ESC 7 8", cols: 10, rows: 5, input: "\x1b[2;3H\x1b7\x1b[5;5H\x1b8X", want: []string{"", "  X"}, cx: 3, cy: 1},
		{name: "save restore CSI s u", cols: 10, rows: 5, input: "\x1b[2;3H\x1b[s\x1b[5;5H\x1b[uX", want: []string{"", "  X"}, cx: 3, cy: 1},
		{name: "restore without save is home", cols: 10, rows: 5, input: "\x1b[31m\x1b[3;3H\x1b8X", want: []string{"X"}, cx: 1, cy: 0,
			check: func(t *testing.T, term *Terminal) {
				if term.pen != (style{}) {
					t.Errorf("pen not reset: %+v", term.pen)
				}
			}},
		{name: "save restores pen", cols: 10, rows: 5, input: "\x1b[1;31m\x1b7\x1b[0m\x1b8X", want: []string{"X"}, cx: 1,
			check: func(t *testing.T, term *Terminal) {
				if c := term.pri.row(0)[0]; c.st.fg != attrBold|kind16|1 {
					t.Errorf("restored pen = %x", c.st.fg)
				}
			}},
		{name: "IND NEL RI", cols: 10, rows: 5, input: "a\x1bDb\x1bEc\x1bMd", want: []string{"a", " d", "c"}, cx: 2, cy: 1},
		{name: "RI scrolls at top", cols: 10, rows: 3, input: "a\r\nb\x1b[H\x1bMX", want: []string{"X", "a", "b"}, cx: 1, cy: 0},
		{name: "LF scrolls at bottom", cols: 10, rows: 3, input: "1\r\n2\r\n3\r\n4", want: []string{"2", "3", "4"}, cx: 1, cy: 2,
			check: func(t *testing.T, term *Terminal) {
				if term.ScrollbackLen() != 1 || term.ScrollbackText(0) != "1" {
					t.Errorf("scrollback = %d %q", term.ScrollbackLen(), term.ScrollbackText(0))
				}
			}},
	})
}

func TestWrap(t *testing.T) {
	runScreenCases(t, []screenCase{
		{name: "pending wrap at last column", cols: 5, rows: 3, input: "abcde", want: []string{"abcde"}, cx: 4, cy: 0,
			check: func(t *testing.T, term *Terminal) {
				if !term.wrapPending {
					t.Error("wrap not pending")
				}
			}},
		{name: "wraps on next char", cols: 5, rows: 3, input: "abcdef", want: []string{"abcde", "f"}, cx: 1, cy: 1},
		{name: "CR cancels pending wrap", cols: 5, rows: 3, input: "abcde\rX", want: []string{"Xbcde"}, cx: 1, cy: 0},
		{name: "CUP cancels pending wrap", cols: 5, rows: 3, input: "abcde\x1b[1;1HX", want: []string{"Xbcde"}, cx: 1, cy: 0},
		{name: "LF from pending wrap", cols: 5, rows: 3, input: "abcde\nX", want: []string{"abcde", "    X"}, cx: 4, cy: 1},
		{name: "wrap scrolls at bottom", cols: 3, rows: 2, input: "abcdefgh", want: []string{"def", "gh"}, cx: 2, cy: 1},
		{name: "bottom right no scroll", cols: 3, rows: 2, input: "\x1b[2;3HZ", want: []string{"", "  Z"}, cx: 2, cy: 1},
		{name: "DECAWM off overwrites last column", cols: 5, rows: 3, input: "\x1b[?7labcdefgh", want: []string{"abcdh"}, cx: 4, cy: 0},
		{name: "DECAWM off then on", cols: 5, rows: 3, input: "\x1b[?7labcdefg\x1b[?7hXY", want: []string{"abcdX", "Y"}, cx: 1, cy: 1},
		{name: "long line wraps many times", cols: 4, rows: 4, input: strings.Repeat("x", 14), want: []string{"xxxx", "xxxx", "xxxx", "xx"}, cx: 2, cy: 3},
		{name: "BS from pending wrap", cols: 5, rows: 3, input: "abcde\bX", want: []string{"abcdX"}, cx: 4, cy: 0},
	})
}

func TestWideAndCombining(t *testing.T) {
	runScreenCases(t, []screenCase{
		{name: "wide takes two cells", cols: 10, rows: 3, input: "a世b", want: []string{"a世b"}, cx: 4, cy: 0,
			check: func(t *testing.T, term *Terminal) {
				r := term.pri.row(0)
				if r[1].ch&chWide == 0 || r[2].ch != chCont {
					t.Errorf("cells %x %x", r[1].ch, r[2].ch)
				}
			}},
		{name: "emoji is wide", cols: 10, rows: 3, input: "😀x", want: []string{"😀x"}, cx: 3},
		{name: "wide at last column wraps", cols: 5, rows: 3, input: "abcd世", want: []string{"abcd", "世"}, cx: 2, cy: 1},
		{name: "wide fills last two columns", cols: 5, rows: 3, input: "abc世", want: []string{"abc世"}, cx: 4, cy: 0},
		{name: "wide at last column without autowrap is dropped", cols: 5, rows: 3, input: "\x1b[?7labcd世", want: []string{"abcd"}, cx: 4},
		{name: "overwrite first half clears second", cols: 10, rows: 3, input: "世\x1b[1GX", want: []string{"X"}, cx: 1,
			check: func(t *testing.T, term *Terminal) {
				if c := term.pri.row(0)[1]; c.ch != 0 {
					t.Errorf("second half left: %x", c.ch)
				}
			}},
		{name: "overwrite second half clears first", cols: 10, rows: 3, input: "世\x1b[2GX", want: []string{" X"}, cx: 2},
		{name: "wide over wide offset", cols: 10, rows: 3, input: "世界\x1b[2G中", want: []string{" 中"}, cx: 3},
		{name: "combining mark", cols: 10, rows: 3, input: "e\u0301x", want: []string{"e\u0301x"}, cx: 2},
		{name: "combining after pending wrap", cols: 3, rows: 3, input: "abc\u0301", want: []string{"abc\u0301"}, cx: 2},
		{name: "combining on wide", cols: 10, rows: 3, input: "世\u0301a", want: []string{"世\u0301a"}, cx: 3},
		{name: "combining at column 0 dropped", cols: 10, rows: 3, input: "\u0301a", want: []string{"a"}, cx: 1},
		{name: "EL splits wide", cols: 10, rows: 3, input: "ab世cd\x1b[4G\x1b[K", want: []string{"ab"}, cx: 3},
		{name: "ECH splits wide", cols: 10, rows: 3, input: "世界\x1b[2G\x1b[2X", want: nil, cx: 1},
		{name: "ICH pushes wide off", cols: 5, rows: 3, input: "abc世\x1b[1G\x1b[@", want: []string{" abc"}, cx: 0},
		{name: "DCH splits wide", cols: 10, rows: 3, input: "a世b\x1b[3G\x1b[P", want: []string{"a b"}, cx: 2},
		{name: "REP wide", cols: 10, rows: 3, input: "世\x1b[2b", want: []string{"世世世"}, cx: 6},
		{name: "invalid UTF-8", cols: 10, rows: 3, input: "a\xffb\xc3(", want: []string{"a\ufffdb\ufffd("}, cx: 5},
		{name: "C1 as UTF-8 ignored", cols: 10, rows: 3, input: "a\u009bb", want: []string{"ab"}, cx: 2},
	})
}

func TestEditing(t *testing.T) {
	runScreenCases(t, []screenCase{
		{name: "EL 0 1 2", cols: 6, rows: 3, input: "abcdef\r\nabcdef\r\nabcdef\x1b[1;3H\x1b[K\x1b[2;3H\x1b[1K\x1b[3;3H\x1b[2K",
			want: []string{"ab", "   def", ""}, cx: 2, cy: 2},
		{name: "ED 0", cols: 4, rows: 3, input: "aaaa\r\nbbbb\r\ncccc\x1b[2;2H\x1b[J", want: []string{"aaaa", "b"}, cx: 1, cy: 1},
		{name: "ED 1", cols: 4, rows: 3, input: "aaaa\r\nbbbb\r\ncccc\x1b[2;2H\x1b[1J", want: []string{"", "  bb", "cccc"}, cx: 1, cy: 1},
		{name: "ED 2 keeps cursor", cols: 4, rows: 3, input: "aaaa\r\nbb\x1b[2J", want: nil, cx: 2, cy: 1},
		{name: "ED 3 clears scrollback", cols: 4, rows: 2, input: "1\r\n2\r\n3\r\n4\x1b[3J", want: []string{"3", "4"}, cx: 1, cy: 1,
			check: func(t *testing.T, term *Terminal) {
				if n := term.ScrollbackLen(); n != 0 {
					t.Errorf("scrollback %d", n)
				}
			}},
		{name: "EL with background", cols: 6, rows: 2, input: "ab\x1b[44m\x1b[K\x1b[0m", want: []string{"ab"}, cx: 2,
			check: func(t *testing.T, term *Terminal) {
				r := term.pri.row(0)
				if r[2].st.bg != kind16|4 || r[5].st.bg != kind16|4 || r[1].st.bg != 0 {
					t.Errorf("bg %x %x %x", r[1].st.bg, r[2].st.bg, r[5].st.bg)
				}
			}},
		{name: "ED with background keeps only colour", cols: 4, rows: 2, input: "\x1b[1;4;41;32m\x1b[2J", cx: 0,
			check: func(t *testing.T, term *Terminal) {
				if c := term.pri.row(1)[3]; c.st != (style{bg: kind16 | 1}) {
					t.Errorf("erased style %+v", c.st)
				}
			}},
		{name: "ICH", cols: 6, rows: 2, input: "abcdef\x1b[1;2H\x1b[2@", want: []string{"a  bcd"}, cx: 1},
		{name: "DCH", cols: 6, rows: 2, input: "abcdef\x1b[1;2H\x1b[2P", want: []string{"adef"}, cx: 1},
		{name: "ECH", cols: 6, rows: 2, input: "abcdef\x1b[1;2H\x1b[2X", want: []string{"a  def"}, cx: 1},
		{name: "ECH clamps", cols: 6, rows: 2, input: "abcdef\x1b[1;5H\x1b[99X", want: []string{"abcd"}, cx: 4},
		{name: "IRM insert mode", cols: 6, rows: 2, input: "abcd\x1b[1;2H\x1b[4hXY\x1b[4l", want: []string{"aXYbcd"}, cx: 3},
		{name: "LNM", cols: 6, rows: 3, input: "\x1b[20hab\ncd", want: []string{"ab", "cd"}, cx: 2, cy: 1},
		{name: "REP", cols: 10, rows: 2, input: "ab\x1b[3b", want: []string{"abbbb"}, cx: 5},
		{name: "REP after control does nothing", cols: 10, rows: 2, input: "ab\r\x1b[3b", want: []string{"ab"}, cx: 0},
		{name: "DECALN", cols: 3, rows: 2, input: "\x1b#8", want: []string{"EEE", "EEE"}, cx: 0},
		{name: "IL", cols: 3, rows: 4, input: "1\r\n2\r\n3\r\n4\x1b[2;2H\x1b[L", want: []string{"1", "", "2", "3"}, cx: 0, cy: 1},
		{name: "DL", cols: 3, rows: 4, input: "1\r\n2\r\n3\r\n4\x1b[2;2H\x1b[2M", want: []string{"1", "4"}, cx: 0, cy: 1},
		{name: "SU", cols: 3, rows: 3, input: "1\r\n2\r\n3\x1b[S", want: []string{"2", "3"}, cx: 1, cy: 2,
			check: func(t *testing.T, term *Terminal) {
				if term.ScrollbackLen() != 0 {
					t.Error("SU must not feed scrollback")
				}
			}},
		{name: "SD", cols: 3, rows: 3, input: "1\r\n2\r\n3\x1b[2T", want: []string{"", "", "1"}, cx: 1, cy: 2},
	})
}

func TestScrollRegion(t *testing.T) {
	base := "1\r\n2\r\n3\r\n4\r\n5"
	runScreenCases(t, []screenCase{
		{name: "LF scrolls region only", cols: 3, rows: 5, input: base + "\x1b[2;4r\x1b[4;1H\nX", want: []string{"1", "3", "4", "X", "5"}, cx: 1, cy: 3,
			check: func(t *testing.T, term *Terminal) {
				if term.ScrollbackLen() != 0 {
					t.Error("region scroll fed scrollback")
				}
			}},
		{name: "DECSTBM homes cursor", cols: 3, rows: 5, input: "\x1b[3;3H\x1b[2;4r", cx: 0, cy: 0},
		{name: "region top 0 feeds scrollback", cols: 3, rows: 5, input: base + "\x1b[1;3r\x1b[3;1H\nX", want: []string{"2", "3", "X", "4", "5"}, cx: 1, cy: 2,
			check: func(t *testing.T, term *Terminal) {
				if term.ScrollbackLen() != 1 || term.ScrollbackText(0) != "1" {
					t.Errorf("scrollback %d", term.ScrollbackLen())
				}
			}},
		{name: "RI in region", cols: 3, rows: 5, input: base + "\x1b[2;4r\x1b[2;1H\x1bMX", want: []string{"1", "X", "2", "3", "5"}, cx: 1, cy: 1},
		{name: "IL in region", cols: 3, rows: 5, input: base + "\x1b[2;4r\x1b[3;1H\x1b[5L", want: []string{"1", "2", "", "", "5"}, cx: 0, cy: 2},
		{name: "DL in region", cols: 3, rows: 5, input: base + "\x1b[2;4r\x1b[2;1H\x1b[M", want: []string{"1", "3", "4", "", "5"}, cx: 0, cy: 1},
		{name: "IL outside region ignored", cols: 3, rows: 5, input: base + "\x1b[2;4r\x1b[5;1H\x1b[L", want: []string{"1", "2", "3", "4", "5"}, cx: 0, cy: 4},
		{name: "SU SD in region", cols: 3, rows: 5, input: base + "\x1b[2;4r\x1b[S\x1b[2T", want: []string{"1", "", "", "3", "5"}, cx: 0, cy: 0},
		{name: "CUD stops at bottom margin", cols: 3, rows: 5, input: "\x1b[2;3r\x1b[2;1H\x1b[9B", cx: 0, cy: 2},
		{name: "CUU stops at top margin", cols: 3, rows: 5, input: "\x1b[2;3r\x1b[3;1H\x1b[9A", cx: 0, cy: 1},
		{name: "below region moves freely", cols: 3, rows: 5, input: "\x1b[2;3r\x1b[5;1H\x1b[A", cx: 0, cy: 3},
		{name: "origin mode", cols: 5, rows: 5, input: "\x1b[2;4r\x1b[?6h\x1b[1;1HX\x1b[9;9HY", want: []string{"", "X", "", "    Y"}, cx: 4, cy: 3},
		{name: "origin mode off homes absolute", cols: 5, rows: 5, input: "\x1b[2;4r\x1b[?6h\x1b[?6lX", want: []string{"X"}, cx: 1, cy: 0},
		{name: "bad region ignored", cols: 3, rows: 5, input: "\x1b[3;3r\x1b[4;2r", cx: 0, cy: 0,
			check: func(t *testing.T, term *Terminal) {
				if term.top != 0 || term.bot != 4 {
					t.Errorf("region %d-%d", term.top, term.bot)
				}
			}},
	})
}

func TestTabs(t *testing.T) {
	runScreenCases(t, []screenCase{
		{name: "default stops", cols: 20, rows: 2, input: "a\tb\tc", want: []string{"a       b       c"}, cx: 17},
		{name: "tab stops at last column", cols: 10, rows: 2, input: "\t\t\tX", want: []string{"         X"}, cx: 9},
		{name: "HTS and TBC", cols: 20, rows: 2, input: "\x1b[3g\x1b[4G\x1bH\r\tX\tY", want: []string{"   X               Y"}, cx: 19},
		{name: "TBC 0", cols: 20, rows: 2, input: "\x1b[9G\x1b[g\r\tX", want: []string{"                X"}, cx: 17},
		{name: "CHT CBT", cols: 30, rows: 2, input: "\x1b[2IX\x1b[2ZY", want: []string{"        Y       X"}, cx: 9},
	})
}

func TestAltScreen(t *testing.T) {
	runScreenCases(t, []screenCase{
		{name: "1049 saves and restores", cols: 10, rows: 3, input: "shell\x1b[?1049h\x1b[2;2Hvim\x1b[?1049l$", want: []string{"shell$"}, cx: 6,
			check: func(t *testing.T, term *Terminal) {
				if term.AltScreen() {
					t.Error("still on alt")
				}
			}},
		{name: "1049 active", cols: 10, rows: 3, input: "shell\x1b[31m\x1b[?1049h\x1b[2;2Hvim", want: []string{"", " vim"}, cx: 4, cy: 1,
			check: func(t *testing.T, term *Terminal) {
				if !term.AltScreen() || term.LineText(0) != "" {
					t.Error("not on clean alt")
				}
				if term.pri.row(0)[0].ch != 's' {
					t.Error("primary lost")
				}
			}},
		{name: "alt clears on entry", cols: 10, rows: 3, input: "\x1b[?1049hjunk\x1b[?1049l\x1b[?1049h", want: nil, cx: 0},
		{name: "47 keeps cursor", cols: 10, rows: 3, input: "ab\x1b[?47hX\x1b[?47lY", want: []string{"ab Y"}, cx: 4},
		{name: "1047", cols: 10, rows: 3, input: "ab\x1b[?1047hX", want: []string{"  X"}, cx: 3},
		{name: "alt screen no scrollback", cols: 5, rows: 2, input: "\x1b[?1049h1\r\n2\r\n3\r\n4", want: []string{"3", "4"}, cx: 1, cy: 1,
			check: func(t *testing.T, term *Terminal) {
				if term.ScrollbackLen() != 0 {
					t.Error("alt screen fed scrollback")
				}
			}},
		{name: "saved cursor per screen", cols: 10, rows: 3, input: "\x1b[2;5H\x1b7\x1b[?1047h\x1b[3;3H\x1b7\x1b[H\x1b8A\x1b[?1047l\x1b8B",
			want: []string{"", "    B"}, cx: 5, cy: 1},
	})
}

func TestModesTitleCharset(t *testing.T) {
	runScreenCases(t, []screenCase{
		{name: "modes tracked", cols: 10, rows: 3, input: "\x1b[?1h\x1b=\x1b[?25l\x1b[?1002h\x1b[?1006h\x1b[?2004h\x1b[?1004h\x1b[4 q", cx: 0,
			check: func(t *testing.T, term *Terminal) {
				m := term.modes
				if m.mouse != 1002 || m.enc != 1006 || m.flags&(1|8|16|64) != 1|8|16|64 || term.CursorVisible() || term.cursorStyle != 4 {
					t.Errorf("modes %+v visible %v style %d", m, term.CursorVisible(), term.cursorStyle)
				}
			}},
		{name: "mouse reset", cols: 10, rows: 3, input: "\x1b[?1003h\x1b[?1000l\x1b[?1015h\x1b[?1006l", cx: 0,
			check: func(t *testing.T, term *Terminal) {
				if term.modes.mouse != 0 || term.modes.enc != 0 {
					t.Errorf("modes %+v", term.modes)
				}
			}},
		{name: "title OSC 2 BEL", cols: 10, rows: 3, input: "\x1b]2;hello world\x07x", want: []string{"x"}, cx: 1,
			check: func(t *testing.T, term *Terminal) {
				if term.Title() != "hello world" {
					t.Errorf("title %q", term.Title())
				}
			}},
		{name: "title OSC 0 ST", cols: 10, rows: 3, input: "\x1b]0;caf\xc3\xa9\x1b\\x", want: []string{"x"}, cx: 1,
			check: func(t *testing.T, term *Terminal) {
				if term.Title() != "café" {
					t.Errorf("title %q", term.Title())
				}
			}},
		{name: "OSC 8 and 52 ignored", cols: 20, rows: 3, input: "\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\\x1b]52;c;aGk=\x07", want: []string{"link"}, cx: 4},
		{name: "DCS APC PM SOS ignored", cols: 10, rows: 3, input: "\x1bP1$r0m\x1b\\a\x1b_Gi=1;AAAA\x1b\\b\x1b^pm\x1b\\c\x1bXsos\x1b\\d", want: []string{"abcd"}, cx: 4},
		{name: "queries ignored", cols: 10, rows: 3, input: "\x1b[c\x1b[>c\x1b[6n\x1b[?2004$p\x1b[>0q\x1b]11;?\x07\x1bP+q544e\x1b\\ok", want: []string{"ok"}, cx: 2},
		{name: "CAN aborts", cols: 10, rows: 3, input: "\x1b[3\x18;4Hx", want: []string{";4Hx"}, cx: 4},
		{name: "control inside CSI", cols: 10, rows: 3, input: "abc\x1b[2\rC!", want: []string{"ab!"}, cx: 3},
		{name: "DEC graphics", cols: 10, rows: 3, input: "\x1b(0lqk\x1b(Bq", want: []string{"┌─┐q"}, cx: 4},
		{name: "SO SI G1", cols: 10, rows: 3, input: "\x1b)0x\x0ex\x0fx", want: []string{"x│x"}, cx: 3},
		{name: "DEC graphics left active", cols: 10, rows: 3, input: "\x1b(0qq", want: []string{"──"}, cx: 2},
		{name: "RIS", cols: 10, rows: 3, input: "abc\x1b[?25l\x1b[2;5r\x1b[31m\x1bc", cx: 0,
			check: func(t *testing.T, term *Terminal) {
				if !term.CursorVisible() || term.pen != (style{}) || term.bot != 2 {
					t.Error("not reset")
				}
			}},
		{name: "DECSTR", cols: 10, rows: 3, input: "\x1b[?25l\x1b[4h\x1b[31m\x1b[!p", cx: 0,
			check: func(t *testing.T, term *Terminal) {
				if !term.CursorVisible() || term.modes.insert || term.pen != (style{}) {
					t.Error("not soft reset")
				}
			}},
	})
}

func TestSGR(t *testing.T) {
	cases := []struct {
		in     string
		fg, bg uint32
	}{
		{"\x1b[1;2;3;5;7;8m", attrBold | attrFaint | attrItalic | attrBlink | attrInverse | attrInvisible, 0},
		{"\x1b[4;9;53m", 0, 1<<ulShift | attrStrike | attrOverline},
		{"\x1b[4:3m", 0, 3 << ulShift},
		{"\x1b[4:0m", 0, 0},
		{"\x1b[21m", 0, 2 << ulShift},
		{"\x1b[1;22m", 0, 0},
		{"\x1b[31;42m", kind16 | 1, kind16 | 2},
		{"\x1b[91;102m", kind16 | 9, kind16 | 10},
		{"\x1b[38;5;200;48;5;17m", kind256 | 200, kind256 | 17},
		{"\x1b[38;2;1;2;3m", kindRGB | 0x010203, 0},
		{"\x1b[38:2::1:2:3m", kindRGB | 0x010203, 0},
		{"\x1b[38:2:1:2:3m", kindRGB | 0x010203, 0},
		{"\x1b[48:5:9m", 0, kind256 | 9},
		{"\x1b[31m\x1b[39m", 0, 0},
		{"\x1b[58;2;1;2;3;1m", attrBold, 0},
		{"\x1b[58:5:3;3m", attrItalic, 0},
		{"\x1b[38;2;300;2;3m", kindRGB | 0xff0203, 0},
		{"\x1b[1m\x1b[m", 0, 0},
		{"\x1b[38;5m", 0, 0},
	}
	for _, c := range cases {
		term := newWith(10, 2, c.in+"x")
		if got := term.pri.row(0)[0].st; got.fg != c.fg || got.bg != c.bg {
			t.Errorf("%q: fg %x bg %x, want %x %x", c.in, got.fg, got.bg, c.fg, c.bg)
		}
		checkRoundTrip(t, term, 0, []byte(c.in))
	}
}

func TestResize(t *testing.T) {
	term := New(10, 5, 100)
	term.Write([]byte("1\r\n2\r\n3\r\n4\r\n5 long"))
	term.Resize(5, 3)
	if c, r := term.Size(); c != 5 || r != 3 {
		t.Fatalf("size %dx%d", c, r)
	}
	want := []string{"3", "4", "5 lon"}
	for y, w := range want {
		if got := term.LineText(y); got != w {
			t.Errorf("row %d = %q want %q", y, got, w)
		}
	}
	if x, y := term.CursorPos(); x != 4 || y != 2 {
		t.Errorf("cursor %d,%d", x, y)
	}
	if term.ScrollbackLen() != 2 || term.ScrollbackText(1) != "2" {
		t.Errorf("scrollback %d", term.ScrollbackLen())
	}
	checkRoundTrip(t, term, 100, nil)
	term.Resize(12, 6)
	term.Write([]byte("\x1b[6;1Hbottom\tX"))
	if got := term.LineText(5); got != "bottom  X" {
		t.Errorf("after grow: %q", got)
	}
	checkRoundTrip(t, term, 100, nil)

	// Cutting a wide character in half blanks it.
	w := New(4, 2, 0)
	w.Write([]byte("ab世"))
	w.Resize(3, 2)
	if got := w.LineText(0); got != "ab" {
		t.Errorf("wide cut: %q", got)
	}
	checkRoundTrip(t, w, 0, nil)

	// Resizing while on the alternate screen.
	a := New(10, 5, 10)
	a.Write([]byte("prompt\r\n\x1b[?1049h\x1b[5;1Hstatus\x1b[3;3H"))
	a.Resize(8, 3)
	checkRoundTrip(t, a, 10, nil)
	a.Write([]byte("\x1b[?1049l"))
	checkRoundTrip(t, a, 10, nil)

	// Degenerate sizes are clamped.
	d := New(0, -1, -5)
	d.Write([]byte("hello\r\n世界\x1b[5;5H"))
	d.Resize(1, 1)
	checkRoundTrip(t, d, 0, nil)
}

func TestScrollbackRing(t *testing.T) {
	term := New(20, 3, 50)
	var in strings.Builder
	for i := 0; i < 1000; i++ {
		in.WriteString(strings.Repeat("x", i%17))
		in.WriteString("\r\n")
	}
	term.Write([]byte(in.String()))
	if n := term.ScrollbackLen(); n != 50 {
		t.Fatalf("len %d", n)
	}
	// Line k of input holds k%17 x's; the newest scrollback line is input
	// line 1000-3 (two lines are still on screen plus the empty last).
	for i := 0; i < 50; i++ {
		k := 1000 - 2 - 50 + i
		if got, want := term.ScrollbackText(i), strings.Repeat("x", k%17); got != want {
			t.Fatalf("line %d = %q want %q", i, got, want)
		}
	}
	checkRoundTrip(t, term, 50, nil)
	checkRoundTrip(t, term, 10, nil)
	if term.ScrollbackText(-1) != "" || term.ScrollbackText(50) != "" || term.LineText(9) != "" {
		t.Error("out of range access")
	}
}

// TestWhereTmuxDeparts: xterm's documented behaviour, which tmux does not
// follow, on the vttest screens where the two differ (see doc.go).
func TestWhereTmuxDeparts(t *testing.T) {
	runScreenCases(t, []screenCase{
		// DECSTBM homes the cursor, to the region's top in origin mode.
		{name: "DECSTBM in origin mode", cols: 20, rows: 6, input: "\x1b[?6h\x1b[5;6r\r\nbottom\x1b[1;1Habove",
			want: []string{"", "", "", "", "above", "bottom"}, cx: 5, cy: 4},
		// CUB with a wrap pending steps back from the last column.
		{name: "CUB from a pending wrap", cols: 10, rows: 3, input: "\x1b[1;10H+\x1b[1D-",
			want: []string{"        -+"}, cx: 9, cy: 0},
	})
}
