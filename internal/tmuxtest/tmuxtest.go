// Package tmuxtest runs a private tmux server as the reference terminal
// emulator of screen tests: a test feeds the bytes a client received into
// a tmux pane (or runs a real client, such as OpenSSH's ssh, in one) and
// reads back what tmux shows, row by row with colours, soft wraps, the
// cursor and the modes. tmux is required: CI installs it, and a test that
// skipped without it would prove nothing.
package tmuxtest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Timeout bounds every wait for tmux.
const Timeout = 20 * time.Second

// Server is a tmux server of the test's own, killed at its end.
type Server struct {
	tb   testing.TB
	dir  string // short: it holds the server's socket
	n    int
	sync int
}

// New starts nothing yet: the server comes with the first pane.
func New(tb testing.TB) *Server {
	tb.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		tb.Fatal("tmux is required (apt-get install tmux)")
	}
	dir, err := os.MkdirTemp("", "ctmux")
	if err != nil {
		tb.Fatal(err)
	}
	// scroll-on-clear is tmux's own: xterm keeps no history of what ED 2
	// erases, and neither does codeterm's emulator.
	conf := "set -g status off\nset -g history-limit 10000\nset -gw scroll-on-clear off\n"
	if err := os.WriteFile(filepath.Join(dir, "conf"), []byte(conf), 0o600); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		exec.Command("tmux", "-S", filepath.Join(dir, "sock"), "kill-server").Run()
		os.RemoveAll(dir)
	})
	return &Server{tb: tb, dir: dir}
}

// Run runs a tmux command on the server and returns its output.
func (m *Server) Run(args ...string) string {
	m.tb.Helper()
	cmd := exec.Command("tmux", append([]string{"-S", filepath.Join(m.dir, "sock"), "-f", filepath.Join(m.dir, "conf")}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		m.tb.Fatalf("tmux %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// Pane is a tmux window of one pane.
type Pane struct {
	m    *Server
	Name string
	fifo *os.File // Write's, for a pane made by Pane
}

// Command opens a cols x rows window running the shell command cmd.
func (m *Server) Command(cols, rows int, cmd string) *Pane {
	m.tb.Helper()
	m.n++
	name := fmt.Sprintf("p%d", m.n)
	m.Run("new-session", "-d", "-s", name, "-x", fmt.Sprint(cols), "-y", fmt.Sprint(rows), cmd)
	return &Pane{m: m, Name: name}
}

// Pane opens a cols x rows window that shows what Write gives it: it runs
// cat of a FIFO, on a terminal in raw mode so that \n stays \n.
func (m *Server) Pane(cols, rows int) *Pane {
	m.tb.Helper()
	path := filepath.Join(m.dir, fmt.Sprintf("fifo%d", m.n+1))
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		m.tb.Fatal(err)
	}
	p := m.Command(cols, rows, "stty raw -echo && exec cat "+path)
	opened := make(chan *os.File, 1)
	go func() {
		f, _ := os.OpenFile(path, os.O_WRONLY, 0)
		opened <- f
	}()
	select {
	case f := <-opened:
		if f == nil {
			m.tb.Fatalf("open %s", path)
		}
		m.tb.Cleanup(func() { f.Close() })
		p.fifo = f
		return p
	case <-time.After(Timeout):
		m.tb.Fatalf("tmux pane %s never read its FIFO", p.Name)
	}
	return nil
}

// Write feeds b to the pane and waits until tmux has interpreted it: an
// OSC 7 (the working directory, which no comparison looks at) follows the
// bytes, and tmux reports it once it has read everything before it.
func (p *Pane) Write(b []byte) {
	tb := p.m.tb
	tb.Helper()
	p.m.sync++
	mark := fmt.Sprintf("/sync/%d", p.m.sync)
	if _, err := p.fifo.Write(append(bytes.Clone(b), "\x1b]7;"+mark+"\a"...)); err != nil {
		tb.Fatal(err)
	}
	p.WaitFor("its input", func() bool { return p.Format("#{pane_path}") == mark })
}

// WaitFor polls cond (tmux offers nothing to wait on) until it holds.
func (p *Pane) WaitFor(what string, cond func() bool) {
	tb := p.m.tb
	tb.Helper()
	deadline := time.Now().Add(Timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("tmux pane %s: timed out waiting for %s; it shows:\n%s", p.Name, what, strings.Join(p.Rows(), "\n"))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// SendKeys types s into the pane's program.
func (p *Pane) SendKeys(s string) {
	p.m.tb.Helper()
	p.m.Run("send-keys", "-t", p.Name, "-l", s)
}

// Format expands a tmux format (#{cursor_x}...) for the pane.
func (p *Pane) Format(f string) string {
	return strings.TrimSpace(p.m.Run("display", "-p", "-t", p.Name, f))
}

// Screen returns the visible rows with colours and attributes, soft
// wrapped rows joined into one line (capture-pane -p -e -J).
func (p *Pane) Screen() []string {
	return lines(p.m.Run("capture-pane", "-p", "-e", "-J", "-t", p.Name))
}

// Rows returns the visible rows as plain text.
func (p *Pane) Rows() []string {
	return lines(p.m.Run("capture-pane", "-p", "-t", p.Name))
}

// History returns the scrollback lines as Screen does.
func (p *Pane) History() []string {
	if p.Format("#{history_size}") == "0" {
		return nil
	}
	return lines(p.m.Run("capture-pane", "-p", "-e", "-J", "-S", "-", "-E", "-1", "-t", p.Name))
}

// modes is the part of tmux's pane state a repaint must reproduce.
const modes = "cursor #{cursor_x},#{cursor_y} visible=#{cursor_flag} alt=#{alternate_on} " +
	"region=#{scroll_region_upper}-#{scroll_region_lower} keypad=#{keypad_flag} cursorkeys=#{keypad_cursor_flag} " +
	"wrap=#{wrap_flag} insert=#{insert_flag} origin=#{origin_flag} mouse=#{mouse_any_flag}#{mouse_button_flag}#{mouse_standard_flag}#{mouse_sgr_flag} " +
	"paste=#{bracket_paste_flag} title=#{pane_title} size=#{pane_width}x#{pane_height}"

// Modes describes the cursor, the modes, the title and the size.
func (p *Pane) Modes() string { return p.Format(modes) }

// Cursor returns the cursor position.
func (p *Pane) Cursor() (x, y int) {
	fmt.Sscanf(p.Format("#{cursor_x} #{cursor_y}"), "%d %d", &x, &y)
	return x, y
}

// lines splits a capture and normalises each line: trailing blanks are
// dropped (a repaint may write blanks the program only skipped over, and
// -J keeps what was written, with the colour changes around them), and
// DEC special graphics, which tmux keeps as such and shows between SO and
// SI, become the Unicode characters codeterm's emulator stores instead.
// Empty lines at the end are dropped.
func lines(s string) []string {
	out := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	for i, l := range out {
		out[i] = trimBlankTail(decGraphics(l))
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

func trimBlankTail(l string) string {
	for {
		n := len(l)
		l = strings.TrimRight(l, " ")
		for _, reset := range []string{"\x1b[0m", "\x1b[m", "\x1b[39m", "\x1b[49m", "\x1b[39;49m"} {
			l = strings.TrimSuffix(l, reset)
		}
		if len(l) == n {
			return l
		}
	}
}

func decGraphics(l string) string {
	glyphs := []rune("\u00a0◆▒␉␌␍␊°±␤␋┘┐┌└┼⎺⎻─⎼⎽├┤┴┬│≤≥π≠£·")
	var b strings.Builder
	shifted, esc := false, false
	for _, r := range l {
		switch {
		case esc:
			// Colour changes sit between SO and SI too: copy them.
			b.WriteRune(r)
			esc = r < 0x40 || r > 0x7e || r == '['
		case r == 0x1b:
			b.WriteRune(r)
			esc = true
		case r == 0x0e:
			shifted = true
		case r == 0x0f:
			shifted = false
		case shifted && r >= 0x5f && r <= 0x7e:
			b.WriteRune(glyphs[r-0x5f])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Diff reports the first line where got differs from want, or "".
func Diff(what string, want, got []string) string {
	for i := 0; i < max(len(want), len(got)); i++ {
		var w, g string
		if i < len(want) {
			w = want[i]
		}
		if i < len(got) {
			g = got[i]
		}
		if w != g {
			return fmt.Sprintf("%s line %d:\nwant %q\ngot  %q", what, i, w, g)
		}
	}
	return ""
}

// Window cuts the part of full (plain rows) a cols x rows window shows
// from column ox and row oy, as Rows would return it.
func Window(full []string, ox, oy, cols, rows int) []string {
	var out []string
	for y := oy; y < oy+rows; y++ {
		var line []rune
		if y < len(full) {
			line = []rune(full[y])
		}
		out = append(out, strings.TrimRight(string(line[min(ox, len(line)):min(ox+cols, len(line))]), " "))
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}
