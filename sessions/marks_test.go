package sessions

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/codeterm/codeterm/sessions/vt"
)

// scanAll runs stream through a fresh scanner cut at every step bytes and
// returns the events.
func scanAll(t *testing.T, stream []byte, step int) []CommandEvent {
	t.Helper()
	m := NewManager(Config{}, nil, nil)
	f := m.WatchCommands()
	defer f.Close()
	s := &Session{m: m, id: "s1", log: m.log}
	sc := &markScanner{t: &commandTracker{s: s}}
	for i := 0; i < len(stream); i += step {
		sc.scan(stream[i:min(i+step, len(stream))], int64(i))
	}
	var evs []CommandEvent
	for {
		select {
		case ev := <-f.C():
			evs = append(evs, ev)
		default:
			return evs
		}
	}
}

// markStream holds two commands, marks cut by every chunk size in the
// tests, another OSC, and marks of a second integration.
var markStream = []byte("\x1b[1mx\x1b]0;title\a\x1b]633;P;Cwd=/tmp/a\\x3bb\a\x1b]133;A\a$ \x1b]133;B\a" +
	"\x1b]633;E;ls \\\\ | wc\\x0a\a\x1b]133;C\aout\r\n\x1b]133;D;3\a\x1b]133;D;4\x1b\\" + // the second D has no command
	"\x1b]133;A\a$ \x1b]133;C\x1b\\\x1b]133;C\a\x1b]1337;x\aa\x1b]133;D\a")

func TestMarkScannerCuts(t *testing.T) {
	stream := markStream
	for step := 1; step <= len(stream); step++ {
		evs := scanAll(t, stream, step)
		if len(evs) != 4 {
			t.Fatalf("step %d: %d events, want 4: %+v", step, len(evs), evs)
		}
		first, end, second, end2 := evs[0], evs[1], evs[2], evs[3]
		if first.Finished || first.Command.Command != "ls \\ | wc\n" || first.Command.Cwd != "/tmp/a;b" || first.Command.ID != "1" {
			t.Fatalf("step %d: first start %+v", step, first)
		}
		if !bytes.HasPrefix(stream[first.Command.Seq:], []byte("\x1b]133;C")) {
			t.Fatalf("step %d: start offset %d", step, first.Command.Seq)
		}
		if !end.Finished || end.Command.ExitCode == nil || *end.Command.ExitCode != 3 || !bytes.HasPrefix(stream[end.Command.EndSeq:], []byte("\x1b]133;D;3")) {
			t.Fatalf("step %d: first end %+v", step, end)
		}
		if second.Finished || second.Command.Command != "" || second.Command.ID != "2" ||
			!end2.Finished || end2.Command.ExitCode != nil || !bytes.HasPrefix(stream[end2.Command.EndSeq:], []byte("\x1b]133;D\a")) {
			t.Fatalf("step %d: second command %+v %+v", step, second, end2)
		}
	}
}

// Through the pump's path: the query filter tells whether a chunk may hold
// a mark at all, whatever the chunk sizes.
func TestMarksThroughPump(t *testing.T) {
	for step := 1; step <= len(markStream); step++ {
		m := NewManager(Config{}, nil, nil)
		f := m.WatchCommands()
		s := &Session{m: m, id: "s1", log: m.log, screen: screen{term: vt.New(80, 24, 0)}, ring: newRing(1 << 16), cols: 80, rows: 24}
		s.marks = &markScanner{t: &commandTracker{s: s}}
		for p := markStream; len(p) > 0; {
			n := min(len(p), step)
			out, qs := s.filter.feed(p[:n])
			s.publish(out, qs)
			p = p[n:]
		}
		if s.filter.held() {
			s.publish(s.filter.flush(), nil)
		}
		if got := len(f.C()); got != 4 {
			t.Fatalf("step %d: %d events, want 4", step, got)
		}
		f.Close()
	}
}

// A program printing marks in a loop does not flood the clients: the
// events stop at the budget, the list still has the last commands.
func TestMarkFloodBounded(t *testing.T) {
	var flood []byte
	for i := range 1000 {
		flood = fmt.Appendf(flood, "\x1b]133;C\a%d\x1b]133;D;0\a", i)
	}
	start := time.Now()
	evs := scanAll(t, flood, 4096)
	limit := 2 * (commandBurst + int(time.Since(start).Seconds()*commandRate) + 1) // started and finished
	if len(evs) > limit || len(evs) < 2*commandBurst {
		t.Fatalf("%d events for 1000 commands, want %d to %d", len(evs), 2*commandBurst, limit)
	}
	for i := 0; i+1 < len(evs); i += 2 {
		if evs[i].Finished || !evs[i+1].Finished || evs[i].Command.ID != evs[i+1].Command.ID {
			t.Fatalf("events %d and %d do not pair: %+v %+v", i, i+1, evs[i], evs[i+1])
		}
	}
}

// shellSession starts shell with the integration on and home as HOME.
func shellSession(t *testing.T, shell string, integration bool, setup func(home string)) (*testEnv, *Session, *collector, *CommandFeed) {
	t.Helper()
	if _, err := exec.LookPath(shell); err != nil {
		t.Fatalf("%s is not installed (CI installs it): %v", shell, err)
	}
	e := newTestEnv(t, Config{ShellIntegration: integration})
	if setup != nil {
		setup(e.home)
	}
	f := e.m.WatchCommands()
	t.Cleanup(f.Close)
	o := e.opts(0)
	o.Shell = shell
	o.Env = []string{"LANG=C.UTF-8"}
	s, err := e.m.Create(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	c := collect(t, attach(t, s, AttachOptions{LastSeq: 0, Cols: 80, Rows: 24}))
	return e, s, c, f
}

// nextEvent waits for the next command event.
func nextEvent(t *testing.T, f *CommandFeed, c *collector) CommandEvent {
	t.Helper()
	select {
	case ev := <-f.C():
		return ev
	case <-time.After(waitTimeout):
		c.mu.Lock()
		defer c.mu.Unlock()
		t.Fatalf("no command event; output ends %q", c.all[max(0, len(c.all)-400):])
	}
	return CommandEvent{}
}

// prompts counts the complete prompts (B marks) in the output.
func (c *collector) prompts() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Count(c.stream, []byte("\x1b]133;B\a"))
}

func (c *collector) waitPrompts(n int) {
	c.t.Helper()
	c.waitUntil("prompt", func() bool { return bytes.Count(c.stream, []byte("\x1b]133;B\a")) >= n })
}

// streamAt returns the output from offset seq.
func (c *collector) streamAt(seq int64) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := seq - c.firstSeq
	if i < 0 || i > int64(len(c.stream)) {
		return nil
	}
	return c.stream[i:]
}

// markReadSlack is how late the pump may read a start mark under load.
const markReadSlack = 100 * time.Millisecond

func TestShellIntegrationCommands(t *testing.T) {
	type run struct {
		line   string
		code   int
		minDur time.Duration
		cmd    string // the reported command line, when not line
		none   bool   // no command runs
	}
	common := []run{
		{line: "true"},
		{line: "false", code: 1},
		{line: "sleep 1", minDur: time.Second},
		{line: "echo piped | grep -q nothing", code: 1},
	}
	for _, tc := range []struct {
		shell  string
		syntax run
	}{
		{"bash", run{line: "if then fi", code: 2}},
		{"zsh", run{line: "echo )", code: 1}},
		// fish keeps a line it cannot parse in the editor: no command.
		{"fish", run{line: "echo )", none: true}},
	} {
		t.Run(tc.shell, func(t *testing.T) {
			e, s, c, f := shellSession(t, tc.shell, true, nil)
			dir, _ := filepath.EvalSymlinks(e.ws[0].LocalPath)
			c.waitPrompts(1)
			runs := append(append([]run{}, common...), tc.syntax)
			for i, r := range runs {
				before := c.prompts()
				sent := time.Now()
				if _, err := c.a.Write([]byte(r.line + "\r")); err != nil {
					t.Fatal(err)
				}
				if r.none {
					c.waitPrompts(before + 1)
					c.a.Write([]byte("\x15")) // clear the line
					continue
				}
				start := nextEvent(t, f, c)
				end := nextEvent(t, f, c)
				took := time.Since(sent)
				if start.Finished || !end.Finished || start.Command.ID != end.Command.ID || start.SessionID != s.ID() {
					t.Fatalf("%q: events out of order: %+v then %+v", r.line, start, end)
				}
				want := r.line
				if r.cmd != "" {
					want = r.cmd
				}
				if start.Command.Command != want || start.Command.Cwd != dir {
					t.Errorf("%q: reported command %q in %q", r.line, start.Command.Command, start.Command.Cwd)
				}
				if end.Command.ExitCode == nil || *end.Command.ExitCode != r.code {
					t.Errorf("%q: exit code %v, want %d", r.line, end.Command.ExitCode, r.code)
				}
				// The server stamps a mark when its pump reads it: a start
				// mark read a moment late (a busy machine) shortens the
				// measure by that moment, never lengthens it past took.
				if d := end.Command.Duration; d < r.minDur-markReadSlack || d > took {
					t.Errorf("%q: duration %v, want between %v and %v", r.line, d, r.minDur, took)
				}
				c.waitPrompts(before + 1)
				if got := c.streamAt(start.Command.Seq); !bytes.HasPrefix(got, []byte("\x1b]133;C")) {
					t.Errorf("%q: start offset %d points at %q", r.line, start.Command.Seq, got[:min(len(got), 20)])
				}
				if got := c.streamAt(end.Command.EndSeq); !bytes.HasPrefix(got, []byte("\x1b]133;D;")) {
					t.Errorf("%q: end offset %d points at %q", r.line, end.Command.EndSeq, got[:min(len(got), 20)])
				}
				if cmds := s.Commands(); len(cmds) != i+1 || cmds[i].ID != end.Command.ID || cmds[i].Running {
					t.Errorf("%q: Commands() = %+v", r.line, cmds)
				}
			}
			// Nothing more: an empty line runs no command.
			before := c.prompts()
			c.a.Write([]byte("\r"))
			c.waitPrompts(before + 1)
			select {
			case ev := <-f.C():
				t.Errorf("empty line reported %+v", ev)
			default:
			}
		})
	}
}

// A user's own prompt command and DEBUG trap keep working, and see the
// status of the command as they did without codeterm.
func TestShellIntegrationBashUserPromptCommand(t *testing.T) {
	c := bashFalse(t, "PROMPT_COMMAND='echo \"user-pc:$?\"'\ntrap 'user_dbg=$((user_dbg+1))' DEBUG\n")
	c.waitFor("user-pc:1")
	c.a.Write([]byte("echo \"dbg:$((user_dbg > 0))\"\r"))
	c.waitFor("dbg:1")
}

// The start-up files see trap as a function only while they run (it spares
// the shell a subshell when no DEBUG trap is set); a trap function of the
// user's own stays, and a DEBUG trap it sets is still chained.
func TestShellIntegrationBashTrapFunction(t *testing.T) {
	t.Run("none", func(t *testing.T) {
		_, _, c, f := shellSession(t, "bash", true, nil)
		c.waitPrompts(1)
		c.a.Write([]byte("echo \"kind:$(type -t trap)\"\r"))
		c.waitFor("kind:builtin")
		nextEvent(t, f, c)
		if ev := nextEvent(t, f, c); ev.Command.ExitCode == nil || *ev.Command.ExitCode != 0 {
			t.Fatalf("echo: %+v", ev)
		}
	})
	t.Run("user's", func(t *testing.T) {
		c := bashFalse(t, "trap() { user_trap=$((user_trap+1)); builtin trap \"$@\"; }\n"+
			"builtin trap 'user_dbg=$((user_dbg+1))' DEBUG\n")
		c.a.Write([]byte("echo \"kind:$(type -t trap) dbg:$((user_dbg > 0))\"\r"))
		c.waitFor("kind:function dbg:1")
	})
}

// bashFalse starts bash with the integration and profile as the user's
// ~/.bash_profile, runs false and checks that it is reported as failed.
func bashFalse(t *testing.T, profile string) *collector {
	t.Helper()
	_, _, c, f := shellSession(t, "bash", true, func(home string) {
		if err := os.WriteFile(filepath.Join(home, ".bash_profile"), []byte(profile), 0o600); err != nil {
			t.Fatal(err)
		}
	})
	c.waitPrompts(1)
	c.a.Write([]byte("false\r"))
	nextEvent(t, f, c)
	if ev := nextEvent(t, f, c); ev.Command.ExitCode == nil || *ev.Command.ExitCode != 1 {
		t.Fatalf("false: %+v", ev)
	}
	return c
}

func TestShellIntegrationOff(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		t.Run(shell, func(t *testing.T) {
			_, s, c, f := shellSession(t, shell, false, nil)
			c.a.Write([]byte("false; echo do''ne\r"))
			c.waitFor("done")
			c.a.Write([]byte("exit\r"))
			<-s.Done()
			select {
			case ev := <-f.C():
				t.Errorf("integration off, yet %+v", ev)
			default:
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			if bytes.Contains(c.stream, []byte("133;")) || s.Commands() != nil {
				t.Errorf("integration off, yet marks in the output %q", c.stream)
			}
		})
	}
}

// The user's zsh start-up files are all read, in order, from their home,
// and the shell's children see no codeterm ZDOTDIR.
func TestShellIntegrationZshUserFiles(t *testing.T) {
	_, _, c, _ := shellSession(t, "zsh", true, func(home string) {
		for _, n := range []string{".zshenv", ".zprofile", ".zshrc", ".zlogin"} {
			os.WriteFile(filepath.Join(home, n), []byte("print -r -- \"read "+strings.TrimPrefix(n, ".")+"\" >> ~/order\n"), 0o600)
		}
	})
	c.waitPrompts(1)
	c.a.Write([]byte("echo \"<$(tr '\\n' ' ' < ~/order)|${ZDOTDIR-unset}>\"\r"))
	c.waitFor("<read zshenv read zprofile read zshrc read zlogin |unset>")
}
