package sshd

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/codeterm/codeterm/internal/tmuxtest"
)

// TestSSHClientsShowTheSameScreen runs OpenSSH's client in tmux windows:
// a late joiner of the same size shows what the first client shows,
// history, soft wraps, colours, cursor and modes included; while a client
// of another size is the most recently active, the others show the part of
// its screen that fits their windows, and the shell has its size.
func TestSSHClientsShowTheSameScreen(t *testing.T) {
	h := newHarness(t)
	tm := tmuxtest.New(t)
	var quoted []string
	for _, a := range h.sshArgs(h.keyAlice, "-tt", "-p", h.port, "alice@127.0.0.1", "demo") {
		quoted = append(quoted, "'"+a+"'")
	}
	ssh := "exec ssh " + strings.Join(quoted, " ")
	// A program's output: history, colours, a soft-wrapped line, the
	// application keypad.
	script := `for i in $(seq 1 80); do printf '\033[3%dmline %d\033[m %s\n' $((i%8)) $i $(printf "%0$((i*2))d" 0); done
printf '%s\n' "$(printf '%0159d' 7)"
printf '\033=\033[1;4mbold\033[m\n'
`
	if err := os.WriteFile(filepath.Join(h.demo.LocalPath, "out.sh"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	// ready waits until p's last row is the prompt after mark-n.
	ready := func(p *tmuxtest.Pane, n int) {
		t.Helper()
		p.WaitFor(fmt.Sprintf("mark-%d and the prompt", n), func() bool {
			rows := p.Rows()
			return len(rows) >= 2 && rows[len(rows)-1] == "P>" && slices.Contains(rows, fmt.Sprintf("mark-%d", n))
		})
	}

	first := tm.Command(100, 30, ssh)
	first.WaitFor("the shell", func() bool { return len(first.Rows()) > 0 })
	first.SendKeys("PS1='P> '; sh out.sh; echo mark-$((20+1))\r")
	ready(first, 21)

	late := tm.Command(100, 30, ssh)
	ready(late, 21)
	if d := tmuxtest.Diff("screen", first.Screen(), late.Screen()); d != "" {
		t.Errorf("late joiner's screen differs: %s", d)
	}
	if d := tmuxtest.Diff("history", first.History(), late.History()); d != "" {
		t.Errorf("late joiner's history differs: %s", d)
	}
	if w, g := first.Modes(), late.Modes(); w != g {
		t.Errorf("late joiner's modes:\nwant %s\ngot  %s", w, g)
	}

	// A larger client joins: the shell takes its size, and the others show
	// the part of its screen that fits, panned to the cursor.
	big := tm.Command(140, 45, ssh)
	ready(big, 21)
	big.SendKeys("sh out.sh; stty size; echo mark-$((21+1))\r")
	ready(big, 22)
	if !slices.Contains(big.Rows(), "45 140") {
		t.Errorf("the shell's size is not the active client's:\n%s", strings.Join(big.Rows(), "\n"))
	}
	showsPart := func(p, of *tmuxtest.Pane, cols, rows int) {
		t.Helper()
		cx, cy := of.Cursor()
		ox, oy := max(cx-cols+1, 0), max(cy-rows+1, 0)
		want := tmuxtest.Window(of.Rows(), ox, oy, cols, rows)
		p.WaitFor("the part of the active client's screen that fits", func() bool {
			return tmuxtest.Diff("", want, p.Rows()) == ""
		})
		if x, y := p.Cursor(); x != cx-ox || y != cy-oy {
			t.Errorf("cursor at (%d,%d), want (%d,%d)", x, y, cx-ox, cy-oy)
		}
	}
	showsPart(first, big, 100, 30)
	showsPart(late, big, 100, 30)

	// The first client types: its size is the shell's again, and the larger
	// one shows its screen in the top-left corner.
	first.SendKeys("stty size; echo mark-$((22+1))\r")
	ready(first, 23)
	if !slices.Contains(first.Rows(), "30 100") {
		t.Errorf("the shell's size is not the active client's:\n%s", strings.Join(first.Rows(), "\n"))
	}
	showsPart(big, first, 140, 45)
	showsPart(late, first, 100, 30)
}

// TestWindowChangesReachTheShell resizes OpenSSH's terminal while it is
// attached, directly and after the workspace picker (which reads window
// changes itself first and must leave every later one to the attach):
// each size reaches the shell.
func TestWindowChangesReachTheShell(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		name string
		args []string
	}{
		// One harness and the test's own goroutine for both: the harness's
		// clients report failures on it.
		{"direct", []string{"alice@127.0.0.1", "demo"}},
		{"after the picker", []string{"alice@127.0.0.1"}},
	} {
		c := h.ptyTerm(exec.Command("ssh", h.sshArgs(h.keyAlice, append([]string{"-tt", "-p", h.port}, tc.args...)...)...))
		if len(tc.args) == 1 {
			c.expect("demo")
			c.send("\r")
			c.expect("attaching to demo")
		}
		for i, size := range [][2]uint16{{100, 30}, {90, 25}, {132, 43}, {80, 24}} {
			if err := pty.Setsize(c.pty, &pty.Winsize{Cols: size[0], Rows: size[1]}); err != nil {
				t.Fatal(err)
			}
			want := fmt.Sprintf("size-%d=%d,%d", i, size[1], size[0])
			// The shell's size may change a moment after ssh's: ask
			// until it has.
			deadline := time.Now().Add(20 * time.Second)
			for {
				c.send(fmt.Sprintf("echo size-%d=$(stty size | tr ' ' ,)\r", i))
				if c.expectWithin(want, time.Second) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: the shell never got %dx%d", tc.name, size[0], size[1])
				}
			}
		}
		c.kill() // the next client is the session's only one
	}
}
