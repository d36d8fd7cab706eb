package sessions

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/codeterm/codeterm/internal/tmuxtest"
)

// program runs output through a session's shell as a program would write
// it: each call cats a file with the bytes, and returns once the first
// client in cs has received them and the others are as far.
type program struct {
	t   *testing.T
	s   *Session
	a   *Attachment // types the commands
	dir string
	n   int
}

// newProgram starts a session of the first client's size, attaches that
// client (first) and readies the shell; c collects what first receives.
func newProgram(t *testing.T, env *testEnv, first AttachOptions) (p *program, c *collector) {
	t.Helper()
	o := env.opts(0)
	o.Cols, o.Rows = first.Cols, first.Rows
	s, err := env.m.Create(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Kill)
	a := neverLag(attach(t, s, first))
	c = collect(t, a)
	p = &program{t: t, s: s, a: a, dir: t.TempDir()}
	// After the first repaint: typed before, the line's output could be
	// in the repaint instead of the stream. No echo and no prompt: the
	// screen holds only what the test writes, after this line.
	c.chunk0()
	input(t, a, "stty -echo; PS1=''; PS2=''; printf '\\033[H\\033[2J\\033[3J'\n")
	c.waitFor("\x1b[2J\x1b[3J")
	p.settle(c)
	return p, c
}

func (p *program) output(b string, cs ...*collector) {
	p.t.Helper()
	p.n++
	path := filepath.Join(p.dir, fmt.Sprint(p.n))
	if err := os.WriteFile(path, []byte(b), 0o600); err != nil {
		p.t.Fatal(err)
	}
	input(p.t, p.a, "cat "+path+"\n")
	// The terminal turns \n into \r\n (ONLCR), as for any program. The
	// first collector gets the output as it is; the others may get views.
	cs[0].waitFor(strings.ReplaceAll(b[max(0, len(b)-40):], "\n", "\r\n"))
	p.settle(cs...)
}

// settle waits until every collector has everything the session wrote.
func (p *program) settle(cs ...*collector) {
	p.t.Helper()
	// The shell prints nothing after a command (no prompt), so once the
	// output is in, the offset stays put.
	p.s.mu.Lock()
	seq := p.s.seq
	p.s.mu.Unlock()
	for _, c := range cs {
		c.waitUntil(fmt.Sprintf("offset %d", seq), func() bool { return c.lastSeq >= seq })
	}
}

// TestLateJoinerMatchesTmux runs a program in a session with one client,
// attaches a second one in the middle, lets the program write more, and
// feeds what each client received into a tmux pane of its size: the late
// joiner's screen, scrollback, cursor and modes must be the first client's,
// row by row with colours and soft wraps.
func TestLateJoinerMatchesTmux(t *testing.T) {
	long := func(n int) string {
		var b strings.Builder
		for b.Len() < n {
			fmt.Fprintf(&b, "%d-", b.Len())
		}
		return b.String()[:n]
	}
	scroll := ""
	for i := 0; i < 60; i++ {
		scroll += fmt.Sprintf("\x1b[3%dmline %d\x1b[m %s\r\n", i%8, i, long(i*3))
	}
	cases := []struct {
		name          string
		before, after string
	}{
		{"autowrap off", "\x1b[?7l" + strings.Repeat("N", 150) + "\r\n", strings.Repeat("M", 120) + "\r\nend"},
		{"keypad", "\x1b=\x1b[?1hkeys", "\r\nmore"},
		{"keypad off again", "\x1b=\x1b>\x1b[?1h\x1b[?1lkeys", "\r\nmore"},
		{"cursor hidden", "\x1b[?25lhidden", " still"},
		{"soft-wrapped lines", "$ " + long(159) + "\r\n" + scroll + "$ " + long(250), "\r\n" + long(120)},
		{"scrollback", scroll + scroll, "$ "},
		{"scroll region", "top\x1b[5;20r\x1b[20;1H" + scroll + "\x1b[5;1Hin region", "\x1b[20;1H\n\nafter"},
		{"alternate screen with saved cursor", "primary \x1b[1;31mred\x1b[?1049h\x1b[44mblue\x1b[K\x1b[10;10H\x1b7\x1b[Halt",
			"\x1b8X\x1b[?1049lback"},
		{"saved cursor on the primary", "\x1b[5;7H\x1b[4m\x1b7\x1b[Hx\x1b[m", "\x1b8saved"},
		{"reverse video", "\x1b[7mreverse\x1b[27m plain \x1b[7;1;38;5;202;48;2;10;20;30mmix", "ed"},
		{"origin mode", "\x1b[3;10r\x1b[?6h\x1b[2;5Horigin", "\x1b[1;1Hhome\x1b[20;1Hbottom"},
		{"insert mode", "abcdef\r\x1b[4h", "XY"},
		{"character sets", "\x1b(0lqqk\x1b(B ascii \x1b)0\x0eqqq", "x\x0fx"},
		{"wide characters at the right margin", strings.Repeat("a", 99) + "世界" + strings.Repeat("b", 98) + "😀x", "日本語"},
		{"wide character in the last column without autowrap", "\x1b[?7l" + strings.Repeat("a", 99) + "世", "\r\nnext"},
		{"pending wrap", strings.Repeat("w", 100), "x"},
		{"colours and attributes", "\x1b[1;3;4;9;53;38;2;1;2;3;48;5;17mstyled\x1b[0m \x1b[4:3;91mcurly\x1b[m\x1b[42m\x1b[K", "\r\n\x1b[2;4:2mdone"},
		{"modes for the keyboard and mouse", "\x1b[?1002h\x1b[?1006h\x1b[?2004h\x1b[?1004h\x1b]2;a title\a", "typed"},
		{"tab stops", "\x1b[3g\x1b[5G\x1bH\x1b[30G\x1bH\r", "\ta\tb\tc"},
	}
	const cols, rows = 100, 30
	// Unlimited: more cases than a workspace may have sessions, and a
	// loaded machine may not have ended the earlier ones yet.
	env := newTestEnv(t, Config{MaxPerUser: -1, MaxPerWorkspace: -1})
	tm := tmuxtest.New(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			prog, cf := newProgram(t, env, AttachOptions{LastSeq: -1, Cols: cols, Rows: rows})
			s := prog.s
			prog.output(tc.before, cf)
			late := neverLag(attach(t, s, AttachOptions{LastSeq: -1, Cols: cols, Rows: rows, Scrollback: 1000, ScrollbackOnce: true}))
			cl := collect(t, late)
			prog.settle(cl)
			prog.output(tc.after, cf, cl)

			ref, got := tm.Pane(cols, rows), tm.Pane(cols, rows)
			ref.Write(cf.snapshot())
			got.Write(cl.snapshot())
			if d := tmuxtest.Diff("screen", ref.Screen(), got.Screen()); d != "" {
				t.Errorf("late joiner differs from the first client: %s", d)
			}
			// tmux saves the top line of any scroll region in its history;
			// xterm and codeterm only lines leaving the top of the screen.
			regionHistory := tc.name == "scroll region"
			if d := tmuxtest.Diff("history", ref.History(), got.History()); d != "" && !regionHistory {
				t.Errorf("late joiner differs from the first client: %s", d)
			}
			if want, got := ref.Modes(), got.Modes(); want != got {
				t.Errorf("late joiner's modes differ from the first client's:\nwant %s\ngot  %s", want, got)
			}
		})
	}
}

// TestClientsOfOtherSizesMatchTmux: with clients of different sizes, the
// most recently active one sets the shell's size and shows the whole
// screen; every other one shows the part that fits its window, panned to
// keep the cursor in sight, as tmux shows a window larger than its client;
// a larger one shows the screen in its top-left corner. Each is compared
// with a tmux pane of the shell's size fed the program's output.
func TestClientsOfOtherSizesMatchTmux(t *testing.T) {
	type size struct{ cols, rows int }
	big, small := size{140, 45}, size{100, 30}
	cases := []struct {
		name           string
		first, second  size
		firstAgain     bool // the first client becomes the most recent again
		active, viewer int  // which client (0 first, 1 second) has the shell's size
	}{
		{name: "late joiner smaller", first: big, second: small, active: 1, viewer: 0},
		{name: "late joiner larger", first: small, second: big, active: 1, viewer: 0},
		{name: "larger client active again", first: big, second: small, firstAgain: true, active: 0, viewer: 1},
	}
	var out strings.Builder
	out.WriteString("\x1b[H\x1b[2J")
	for i := 0; i < 60; i++ {
		fmt.Fprintf(&out, "\x1b[3%dmrow %d\x1b[m %s\r\n", i%8, i, strings.Repeat(fmt.Sprint(i%10), 2*i))
	}
	out.WriteString("\x1b[7m status \x1b[m $ ")
	env := newTestEnv(t, Config{})
	tm := tmuxtest.New(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			prog, cf := newProgram(t, env, AttachOptions{LastSeq: -1, Cols: tc.first.cols, Rows: tc.first.rows, Viewport: true})
			s, first := prog.s, prog.a
			second := neverLag(attach(t, s, AttachOptions{LastSeq: -1, Cols: tc.second.cols, Rows: tc.second.rows, Viewport: true}))
			cs := collect(t, second)
			repaints := func(n int) func() bool {
				return func() bool {
					for _, c := range cf.chunks {
						if c.Kind == ChunkRepaint {
							n--
						}
					}
					return n <= 0
				}
			}
			// The first client's screen, then its view of the second's.
			cf.waitUntil("a view", repaints(2))
			if tc.firstAgain {
				if err := first.Resize(tc.first.cols, tc.first.rows); err != nil {
					t.Fatal(err)
				}
				cf.waitUntil("the whole screen again", repaints(3))
			}
			atts, colls, sizes := []*Attachment{first, second}, []*collector{cf, cs}, []size{tc.first, tc.second}
			want := sizes[tc.active]
			prog.a = atts[tc.active]
			// Each client's first repaint (after a change of size) before the
			// program writes: its output then comes as output.
			cf.chunk0()
			cs.chunk0()
			prog.settle(cf, cs)
			prog.output(out.String(), colls[tc.active], colls[tc.viewer])
			// The shell's real size is the active client's.
			var ws *unix.Winsize
			s.rawMaster.Control(func(fd uintptr) { ws, _ = unix.IoctlGetWinsize(int(fd), unix.TIOCGWINSZ) })
			if ws == nil || int(ws.Col) != want.cols || int(ws.Row) != want.rows {
				t.Fatalf("the terminal is %+v, want %dx%d", ws, want.cols, want.rows)
			}

			ref := tm.Pane(want.cols, want.rows)
			ref.Write([]byte(out.String()))
			active := tm.Pane(want.cols, want.rows)
			active.Write(colls[tc.active].snapshot())
			if d := tmuxtest.Diff("screen", ref.Screen(), active.Screen()); d != "" {
				t.Errorf("the active client differs from the program's screen: %s", d)
			}
			if w, g := ref.Modes(), active.Modes(); w != g {
				t.Errorf("the active client's modes:\nwant %s\ngot  %s", w, g)
			}

			vs := sizes[tc.viewer]
			view := tm.Pane(vs.cols, vs.rows)
			view.Write(colls[tc.viewer].snapshot())
			cx, cy := ref.Cursor()
			ox, oy := max(cx-vs.cols+1, 0), max(cy-vs.rows+1, 0)
			wantRows := tmuxtest.Window(ref.Rows(), ox, oy, vs.cols, vs.rows)
			if d := tmuxtest.Diff("screen", wantRows, view.Rows()); d != "" {
				t.Errorf("the %dx%d client does not show the part of the %dx%d screen at (%d,%d): %s",
					vs.cols, vs.rows, want.cols, want.rows, ox, oy, d)
			}
			if x, y := view.Cursor(); x != cx-ox || y != cy-oy {
				t.Errorf("the %dx%d client's cursor is at (%d,%d), want (%d,%d)", vs.cols, vs.rows, x, y, cx-ox, cy-oy)
			}
		})
	}
}
