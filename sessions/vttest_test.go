package sessions

import (
	"bytes"
	"fmt"
	"os/exec"
	"testing"

	"github.com/codeterm/codeterm/internal/tmuxtest"
)

// TestVttestLateJoiner drives vttest's screens through a session. On every
// screen that waits for RETURN, a viewer attaches and its screen (fed to
// tmux) must equal the first client's (fed to tmux too): whatever the
// emulator gets wrong shows up as a difference between the two.
func TestVttestLateJoiner(t *testing.T) {
	if _, err := exec.LookPath("vttest"); err != nil {
		t.Fatalf("vttest is needed (.ci/run installs it): %v", err)
	}
	const cols, rows = 80, 24
	env := newTestEnv(t, Config{})
	tm := tmuxtest.New(t)
	prog, cf := newProgram(t, env, AttachOptions{LastSeq: -1, Cols: cols, Rows: rows})
	s, first := prog.s, prog.a
	count := func(what string) int {
		cf.mu.Lock()
		defer cf.mu.Unlock()
		return bytes.Count(cf.all, []byte(what))
	}
	const menu, page = "Enter choice number", "Push <RETURN>"
	input(t, first, "exec vttest\n")
	go answerAsVT100(cf, first)
	cf.waitFor(menu)
	for _, choice := range []string{"1", "2", "3", "8"} {
		menus, pages := count(menu), count(page)
		input(t, first, choice+"\r")
		for n := 1; ; n++ {
			cf.waitUntil("a page or the menu", func() bool {
				return bytes.Count(cf.all, []byte(page)) > pages || bytes.Count(cf.all, []byte(menu)) > menus
			})
			if count(menu) > menus {
				break
			}
			pages = count(page)
			prog.settle(cf)
			name := fmt.Sprintf("menu %s page %d", choice, n)
			cf.mu.Lock()
			screen := cf.all[bytes.LastIndex(cf.all[:bytes.LastIndex(cf.all, []byte(page))], []byte(page))+1:]
			cf.mu.Unlock()

			late := neverLag(attach(t, s, AttachOptions{LastSeq: -1, ReadOnly: true, Cols: cols, Rows: rows}))
			cl := collect(t, late)
			prog.settle(cl)
			ref, got := tm.Pane(cols, rows), tm.Pane(cols, rows)
			ref.Write(cf.snapshot())
			got.Write(cl.snapshot())
			if d := tmuxtest.Diff("screen", ref.Screen(), got.Screen()); d != "" {
				if why := tmuxDeparts(screen); why != "" {
					t.Logf("%s: tmux departs from xterm here (%s): %s", name, why, d)
				} else {
					t.Errorf("%s: late joiner differs: %s", name, d)
				}
			}
			if w, g := ref.Modes(), got.Modes(); w != g {
				t.Errorf("%s: late joiner's modes:\nwant %s\ngot  %s", name, w, g)
			}
			late.Close()
			input(t, first, "\r")
		}
	}
}

// answerAsVT100 answers the queries c's client gets as a VT100 with the
// advanced video option: vttest asks before it shows its menu.
func answerAsVT100(c *collector, a *Attachment) {
	handled := 0
	for {
		c.mu.Lock()
		var qs [][]byte
		n := 0
		for _, ch := range c.chunks {
			if ch.Kind == ChunkQuery {
				if n >= handled {
					qs = append(qs, ch.Data)
				}
				n++
			}
		}
		handled = n
		changed := c.changed
		c.mu.Unlock()
		for _, q := range qs {
			if bytes.Equal(q, []byte("\x1b[c")) || bytes.Equal(q, []byte("\x1b[0c")) {
				a.Write([]byte("\x1b[?1;2c"))
			}
		}
		select {
		case <-changed:
		case <-c.done:
			return
		}
	}
}

// tmuxDeparts says why tmux, the reference, cannot show a vttest screen
// (its output since the previous one) as xterm does, which is what
// codeterm's emulator follows (sessions/vt/doc.go lists these).
func tmuxDeparts(screen []byte) string {
	switch {
	case bytes.Contains(screen, []byte("\x1b[?3h")):
		// vttest draws for 132 columns on the 80 the window has, and its
		// frame moves back from the right margin with the wrap pending:
		// xterm and xterm.js step back from the last column, tmux from one
		// past it.
		return "132 columns drawn on 80: tmux steps back from past the right margin"
	case bytes.Contains(screen, []byte("Origin mode test. This line should be at the bottom")):
		return "in origin mode tmux homes the cursor after DECSTBM to the screen's top, xterm to the region's"
	}
	return ""
}
