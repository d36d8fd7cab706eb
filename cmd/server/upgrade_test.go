package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/codeterm/codeterm/auth"
)

// upgradeServer is `codeterm serve` run from a copy of the binary (so a
// test may replace it), with its output kept line by line.
type upgradeServer struct {
	t       testing.TB
	e       *env
	bin     string
	config  string // the configuration file the server reads
	cmd     *exec.Cmd
	base    string
	sshPort string
	key     ssh.Signer
	keyFile string
	token   string
	wsID    string

	mu      sync.Mutex
	lines   []string
	changed chan struct{}
}

// startUpgradeServer starts it with extra CODETERM_* settings in its
// environment.
func startUpgradeServer(t testing.TB, environ ...string) *upgradeServer {
	t.Helper()
	e := newEnv(t)
	s := &upgradeServer{t: t, e: e, bin: filepath.Join(t.TempDir(), "codeterm"), changed: make(chan struct{})}
	data, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	s.keyFile = filepath.Join(t.TempDir(), "alice")
	if s.key, _, err = auth.LoadOrCreateHostKey(s.keyFile); err != nil {
		t.Fatal(err)
	}
	pub := s.keyFile + ".pub"
	os.WriteFile(pub, ssh.MarshalAuthorizedKey(s.key.PublicKey()), 0o644)
	e.ok("user", "add", "alice", "--key", pub)
	e.ok("workspace", "create", "demo", "--owner", "alice")
	s.token = strings.TrimSpace(e.ok("token", "alice"))

	s.config = filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(s.config, []byte("log:\n  format: text\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.cmd = exec.Command(s.bin, "serve", "--data", e.data, "--config", s.config, "--http-addr", "127.0.0.1:0", "--ssh-addr", "127.0.0.1:0")
	s.cmd.Env = append([]string{"HOME=" + e.home, "PATH=" + os.Getenv("PATH"), "USER=root", "CODETERM_SECURITY_ISOLATION=shared"}, environ...)
	stdout, _ := s.cmd.StdoutPipe()
	stderr, _ := s.cmd.StderrPipe()
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			s.cmd.Process.Kill()
			<-done
		}
		if t.Failed() || os.Getenv("UPGRADE_LOG") != "" {
			t.Logf("server output:\n%s", strings.Join(s.lines, "\n"))
		}
	})
	for _, r := range []io.Reader{stdout, stderr} {
		go func() {
			sc := bufio.NewScanner(r)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				s.mu.Lock()
				s.lines = append(s.lines, sc.Text())
				close(s.changed)
				s.changed = make(chan struct{})
				s.mu.Unlock()
			}
		}()
	}
	web := s.waitLog(0, "web:")
	s.base = strings.TrimSpace(strings.SplitN(s.line(web), "web:", 2)[1])
	m := regexp.MustCompile(`ssh -p (\d+) `).FindStringSubmatch(s.line(s.waitLog(0, "ssh:")))
	if m == nil {
		t.Fatalf("no ssh port in %q", s.line(s.waitLog(0, "ssh:")))
	}
	s.sshPort = m[1]
	var list struct{ Workspaces []struct{ ID, Name string } }
	s.getJSON("/api/workspaces", &list)
	for _, w := range list.Workspaces {
		if w.Name == "demo" {
			s.wsID = w.ID
		}
	}
	if s.wsID == "" {
		t.Fatalf("no workspace demo in %+v", list)
	}
	return s
}

func (s *upgradeServer) line(i int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lines[i]
}

// mark is the number of lines so far: waitLog(mark, ...) looks at later ones.
func (s *upgradeServer) mark() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.lines)
}

// waitLog waits for a line from index from on that contains want.
func (s *upgradeServer) waitLog(from int, want string) int {
	s.t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		s.mu.Lock()
		for i := from; i < len(s.lines); i++ {
			if strings.Contains(s.lines[i], want) {
				s.mu.Unlock()
				return i
			}
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			s.t.Fatalf("server never logged %q", want)
		}
	}
}

func (s *upgradeServer) getJSON(path string, v any) {
	s.t.Helper()
	req, _ := http.NewRequest("GET", s.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+s.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		s.t.Fatalf("GET %s: %d", path, res.StatusCode)
	}
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		s.t.Fatal(err)
	}
}

// terminals lists the workspace's sessions as "id pid" lines.
func (s *upgradeServer) terminals() []string {
	var out struct {
		Terminals []struct {
			SessionID string
			PID       int
		}
	}
	s.getJSON("/api/workspaces/"+s.wsID+"/terminals", &out)
	var list []string
	for _, t := range out.Terminals {
		list = append(list, fmt.Sprintf("%s %d", t.SessionID, t.PID))
	}
	sort.Strings(list)
	return list
}

// upgrade sends SIGHUP and waits until the new program serves.
func (s *upgradeServer) upgrade() time.Duration {
	s.t.Helper()
	from := s.mark()
	start := time.Now()
	s.cmd.Process.Signal(syscall.SIGHUP)
	s.waitLog(from, "now serving as the new program")
	return time.Since(start)
}

// fds lists the server's open descriptors and what they are.
func (s *upgradeServer) fds() []string {
	dir := fmt.Sprintf("/proc/%d/fd", s.cmd.Process.Pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		s.t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		to, _ := os.Readlink(filepath.Join(dir, e.Name()))
		out = append(out, e.Name()+"->"+regexp.MustCompile(`\d+`).ReplaceAllString(to, "N"))
	}
	return out
}

// childWith returns the server's child whose command line contains want, or 0.
func (s *upgradeServer) childWith(want string) int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", s.cmd.Process.Pid))
	for _, task := range tasks {
		b, _ := os.ReadFile(task)
		for _, f := range strings.Fields(string(b)) {
			cmdline, _ := os.ReadFile("/proc/" + f + "/cmdline")
			if strings.Contains(strings.ReplaceAll(string(cmdline), "\x00", " "), want) {
				var pid int
				fmt.Sscan(f, &pid)
				return pid
			}
		}
	}
	return 0
}

// sshTerm is an interactive SSH client attached to the workspace.
type sshTerm struct {
	t      testing.TB
	client *ssh.Client
	sess   *ssh.Session
	in     io.Writer
	mu     sync.Mutex
	out    bytes.Buffer
	grew   chan struct{}
	ended  chan error
}

func (s *upgradeServer) attach(target string) *sshTerm {
	s.t.Helper()
	client, err := ssh.Dial("tcp", "127.0.0.1:"+s.sshPort, &ssh.ClientConfig{
		User: "alice", Auth: []ssh.AuthMethod{ssh.PublicKeys(s.key)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second,
	})
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { client.Close() })
	sess, err := client.NewSession()
	if err != nil {
		s.t.Fatal(err)
	}
	if err := sess.RequestPty("xterm", 24, 80, ssh.TerminalModes{}); err != nil {
		s.t.Fatal(err)
	}
	st := &sshTerm{t: s.t, client: client, sess: sess, grew: make(chan struct{}), ended: make(chan error, 1)}
	st.in, _ = sess.StdinPipe()
	r, w := io.Pipe()
	sess.Stdout = w
	if err := sess.Start(target); err != nil {
		s.t.Fatal(err)
	}
	go func() { st.ended <- sess.Wait(); w.Close() }()
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := r.Read(buf)
			st.mu.Lock()
			st.out.Write(buf[:n])
			close(st.grew)
			st.grew = make(chan struct{})
			st.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return st
}

func (st *sshTerm) waitFor(want string) {
	st.t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		st.mu.Lock()
		ok := bytes.Contains(st.out.Bytes(), []byte(want))
		tail := st.out.String()[max(0, st.out.Len()-300):]
		ch := st.grew
		st.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			st.t.Fatalf("ssh client never saw %q; output ends %q", want, tail)
		}
	}
}

func (st *sshTerm) input(s string) {
	st.t.Helper()
	if _, err := io.WriteString(st.in, s); err != nil {
		st.t.Fatal(err)
	}
}

// TestUpgradeInPlace: SIGHUP re-executes the server in place while an SSH
// session and a socket.io-client session stream output. The sessions keep
// their ids, shells, variables and jobs; the socket.io-client resumes with
// every line exactly once; the SSH client, cut off, reattaches to its
// screen; a new SSH command is served at once.
func TestUpgradeInPlace(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is required (see README)")
	}
	script, _ := filepath.Abs("../../webbridge/e2e/upgrade-client.mjs")
	if _, err := os.Stat(filepath.Join(filepath.Dir(script), "node_modules", "socket.io-client")); err != nil {
		t.Fatal("run (cd webbridge/e2e && npm ci) first: socket.io-client is missing")
	}
	s := startUpgradeServer(t)

	term := s.attach("demo")
	term.input("SSHVAR=from-ssh; sleep 302 & echo SSH-RE\"\"ADY\r")
	term.waitFor("SSH-READY")
	term.input("for i in $(seq 1 200); do echo S$i; sleep 0.01; done; echo SSH-LOOP-D\"\"ONE\r")
	term.waitFor("S20\r\n")

	nodeCmd := exec.Command(node, script)
	nodeCmd.Env = append(os.Environ(), "CODETERM_URL="+s.base, "TOKEN="+s.token, "WORKSPACE="+s.wsID)
	nodeIn, _ := nodeCmd.StdinPipe()
	nodeOut, _ := nodeCmd.StdoutPipe()
	nodeCmd.Stderr = os.Stderr
	if err := nodeCmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nodeCmd.Process.Kill(); nodeCmd.Wait() })
	steps := bufio.NewScanner(nodeOut)
	step := func(want string) map[string]any {
		t.Helper()
		if !steps.Scan() {
			t.Fatalf("socket.io-client ended before %s", want)
		}
		var m map[string]any
		if err := json.Unmarshal(steps.Bytes(), &m); err != nil || m["step"] != want {
			t.Fatalf("socket.io-client: %s, want step %s", steps.Text(), want)
		}
		return m
	}
	streaming := step("streaming")
	if l, _ := streaming["terminals"].([]any); len(l) != 2 {
		t.Fatalf("list-terminals before the switch: %v", streaming["terminals"])
	}
	listed := fmt.Sprint(streaming["terminals"])

	before := s.terminals()
	if len(before) != 2 {
		t.Fatalf("sessions before: %v", before)
	}
	// A command over SSH (not a session) outlives its client's connection:
	// the new program must reap it, or it stays a zombie.
	execClient, err := ssh.Dial("tcp", "127.0.0.1:"+s.sshPort, &ssh.ClientConfig{
		User: "alice", Auth: []ssh.AuthMethod{ssh.PublicKeys(s.key)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer execClient.Close()
	execSess, _ := execClient.NewSession()
	if err := execSess.Start("demo sleep 1.5"); err != nil {
		t.Fatal(err)
	}
	var stray int
	for deadline := time.Now().Add(20 * time.Second); stray == 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		stray = s.childWith("sleep 1.5")
	}
	if stray == 0 {
		t.Fatal("the SSH command did not start")
	}

	took := s.upgrade()
	io.WriteString(nodeIn, "go\n")
	start := time.Now()
	out, err := exec.Command("ssh", "-F", "none", "-i", s.keyFile, "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "BatchMode=yes",
		"-p", s.sshPort, "alice@127.0.0.1", "demo", "true").CombinedOutput()
	if err != nil {
		t.Fatalf("ssh demo true after the upgrade: %v: %s", err, out)
	}
	t.Logf("switch served after %v; ssh demo true took %v more", took, time.Since(start))

	if after := s.terminals(); strings.Join(after, ",") != strings.Join(before, ",") {
		t.Fatalf("sessions changed: before %v, after %v", before, after)
	}
	select {
	case <-term.ended: // its connection went with the old image
	case <-time.After(30 * time.Second):
		t.Fatal("the SSH client was not disconnected")
	}
	term.waitFor("codeterm is restarting; reconnect")

	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", stray)); err != nil {
			break // reaped
		}
		if time.Now().After(deadline) {
			st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", stray))
			t.Fatalf("the old program's child %d was never reaped: %s", stray, st)
		}
	}

	done := step("done")
	if after := fmt.Sprint(done["terminals"]); after != listed {
		t.Fatalf("list-terminals before the switch %s, after %s", listed, after)
	}
	if done["restartNotices"].(float64) < 1 || done["connects"].(float64) < 2 || done["repaints"].(float64) != 0 {
		t.Fatalf("socket.io-client: %v", done)
	}

	again := s.attach("demo")
	again.waitFor("SSH-LOOP-DONE")
	again.input("echo \"SSHVAR=$SSHVAR\"; kill -0 $! && echo SSH-JOB-AL\"\"IVE\r")
	again.waitFor("SSHVAR=from-ssh")
	again.waitFor("SSH-JOB-ALIVE")
}

// TestUpgradeRefusedAndRepeated: a broken program at the path, or a
// configuration it cannot load, is refused before anything stops (the
// server logs why and keeps its clients); a changed configuration takes
// effect at the switch; ten upgrades in a row (one through `codeterm
// reload`) leak no descriptor.
func TestUpgradeRefusedAndRepeated(t *testing.T) {
	s := startUpgradeServer(t)
	term := s.attach("demo")
	term.input("KEEP=1; echo BEF\"\"ORE\r")
	term.waitFor("BEFORE")

	good, err := os.ReadFile(s.bin)
	if err != nil {
		t.Fatal(err)
	}
	replace := func(data []byte) {
		tmp := s.bin + ".new"
		if err := os.WriteFile(tmp, data, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, s.bin); err != nil {
			t.Fatal(err)
		}
	}
	replace([]byte("#!/bin/sh\necho this build is broken >&2\nexit 1\n"))
	from := s.mark()
	s.cmd.Process.Signal(syscall.SIGHUP)
	failed := s.line(s.waitLog(from, "upgrade failed"))
	if !strings.Contains(failed, "exit status 1") || !strings.Contains(failed, "this build is broken") {
		t.Fatalf("the log does not say why: %s", failed)
	}
	// Still the same image: the SSH client was never cut.
	term.input("echo \"AFTER-$KEEP\"\r")
	term.waitFor("AFTER-1")

	replace(good)
	os.WriteFile(s.config, []byte("log:\n  format: yaml\n"), 0o600)
	from = s.mark()
	s.cmd.Process.Signal(syscall.SIGHUP)
	if failed := s.line(s.waitLog(from, "upgrade failed")); !strings.Contains(failed, "log.format") {
		t.Fatalf("a bad configuration is not named: %s", failed)
	}
	term.input("echo \"CONFIG-$KEEP\"\r")
	term.waitFor("CONFIG-1")

	os.WriteFile(s.config, []byte("log:\n  format: json\n"), 0o600)
	sessions := s.terminals()
	from = s.mark()
	if out := s.e.ok("reload"); !strings.Contains(out, fmt.Sprint(s.cmd.Process.Pid)) {
		t.Fatalf("reload: %q", out)
	}
	if l := s.line(s.waitLog(from, "now serving as the new program")); !strings.HasPrefix(l, "{") {
		t.Fatalf("the new configuration (JSON logs) is not in effect: %s", l)
	}
	baseline := s.fds()
	for range 10 {
		s.upgrade()
	}
	// Descriptors the new image opens as it starts (a pidfd per shell,
	// the database) settle at once; a leak grows with every switch.
	var n []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if n = s.fds(); len(n) <= len(baseline) || time.Now().After(deadline) {
			break
		}
	}
	if len(n) > len(baseline) {
		t.Fatalf("%d descriptors after ten upgrades, %d after the first:\n%v\n%v", len(n), len(baseline), n, baseline)
	}
	if after := s.terminals(); strings.Join(after, ",") != strings.Join(sessions, ",") {
		t.Fatalf("sessions changed: before %v, after %v", sessions, after)
	}
	again := s.attach("demo")
	again.input("echo \"STILL-$KEEP\"\r")
	again.waitFor("STILL-1")
}
