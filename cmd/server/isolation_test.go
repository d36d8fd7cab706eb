package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/codeterm/codeterm/auth"
	"github.com/codeterm/codeterm/internal/gittest"
	"github.com/codeterm/codeterm/isolation"
)

// accountsEnv is an installation in accounts mode, in a directory every OS
// account may pass through (t.TempDir's parents are 0700). Every OS account
// made for its data dir is removed when the test ends, failed or not.
func accountsEnv(t *testing.T, vars ...string) *env {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the isolation tests create OS accounts: run them as root (CI does)")
	}
	root, err := os.MkdirTemp("", "codeterm-iso-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(root, 0o711)
	t.Cleanup(func() { os.RemoveAll(root) })
	e := &env{t: t, data: filepath.Join(root, "data"), home: filepath.Join(root, "home")}
	os.MkdirAll(filepath.Join(e.home, ".ssh"), 0o700)
	e.vars = append([]string{"CODETERM_SECURITY_ISOLATION=accounts"}, vars...)
	t.Cleanup(func() { removeAccounts(t, e.data) }) // runs after the server is gone
	return e
}

// removeAccounts deletes every OS account and cgroup made for dataDir.
func removeAccounts(t *testing.T, dataDir string) {
	sys, err := isolation.NewSystem(dataDir)
	if err != nil {
		t.Error(err)
		return
	}
	passwd, _ := os.ReadFile("/etc/passwd")
	for _, line := range strings.Split(string(passwd), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 7 || f[4] != sys.Marker {
			continue
		}
		if uid, err := strconv.Atoi(f[2]); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			isolation.KillAll(ctx, uint32(uid))
			cancel()
		}
		if out, err := exec.Command("userdel", f[0]).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v %s", f[0], err, out)
		}
	}
	name := sys.CgroupName()
	for _, pat := range []string{"/sys/fs/cgroup/*/", "/sys/fs/cgroup/*/*/", "/sys/fs/cgroup/*/*/*/"} {
		dirs, _ := filepath.Glob(pat + name)
		for _, d := range dirs {
			users, _ := os.ReadDir(d)
			for _, u := range users {
				if u.IsDir() {
					if err := os.Remove(filepath.Join(d, u.Name())); err != nil {
						t.Errorf("remove cgroup: %v", err)
					}
				}
			}
			if err := os.Remove(d); err != nil {
				t.Errorf("remove cgroup: %v", err)
			}
		}
	}
}

// isoUser is a codeterm user with a private key for the OpenSSH client.
type isoUser struct {
	name, key string
	uid       int
}

func (e *env) addAccountUser(name string, extra ...string) *isoUser {
	e.t.Helper()
	keyPath := filepath.Join(e.home, name+"_key")
	signer, _, err := auth.LoadOrCreateHostKey(keyPath)
	if err != nil {
		e.t.Fatal(err)
	}
	pub := keyPath + ".pub"
	os.WriteFile(pub, ssh.MarshalAuthorizedKey(signer.PublicKey()), 0o644)
	out := e.ok(append([]string{"user", "add", name, "--key", pub}, extra...)...)
	m := regexp.MustCompile(`OS account (\S+) \(uid (\d+)\)`).FindStringSubmatch(out)
	if m == nil {
		e.t.Fatalf("user add %s: no OS account in %q", name, out)
	}
	uid, _ := strconv.Atoi(m[2])
	return &isoUser{name: name, key: keyPath, uid: uid}
}

// logBuffer collects the server's log.
type logBuffer struct {
	mu    sync.Mutex
	b     bytes.Buffer
	grown chan struct{} // a value after each write
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case l.grown <- struct{}{}:
	default:
	}
	return l.b.Write(p)
}

// waitFor returns once the log holds s, or fails the test after d.
func (l *logBuffer) waitFor(t *testing.T, s string, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for !strings.Contains(l.String(), s) {
		select {
		case <-l.grown:
		case <-deadline:
			t.Fatalf("no %q in the log:\n%s", s, l)
		}
	}
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// isoServer is a running codeterm serve.
type isoServer struct {
	t    *testing.T
	e    *env
	cmd  *exec.Cmd
	port string // SSH
	web  string // base URL
	log  *logBuffer
}

func serveLogged(t *testing.T, e *env) *isoServer {
	t.Helper()
	c := e.cmd("serve", "--http-addr", "127.0.0.1:0", "--ssh-addr", "127.0.0.1:0")
	stdout, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &isoServer{t: t, e: e, cmd: c, log: &logBuffer{grown: make(chan struct{}, 1)}}
	c.Stderr = s.log
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			c.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("server log:\n%s", s.log)
		}
	})
	found := make(chan [2]string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		var port string
		for sc.Scan() {
			if m := regexp.MustCompile(`ssh -p (\d+) `).FindStringSubmatch(sc.Text()); m != nil {
				port = m[1]
			}
			if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "web:"); ok {
				found <- [2]string{port, strings.TrimSpace(v)}
			}
		}
	}()
	select {
	case f := <-found:
		s.port, s.web = f[0], f[1]
	case <-time.After(30 * time.Second):
		t.Fatalf("serve printed no addresses; log:\n%s", s.log)
	}
	return s
}

func (s *isoServer) sshArgs(u *isoUser) []string {
	return []string{"-F", "none", "-i", u.key, "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "BatchMode=yes"}
}

// run runs an OpenSSH tool (ssh, sftp, scp, rsync) to completion.
func (s *isoServer) run(stdin string, name string, args ...string) (stdout, stderr string, code int) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := exec.CommandContext(ctx, name, args...)
	c.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatalf("%s %v: %v", name, args, err)
	}
	return out.String(), errb.String(), code
}

// exec runs command over ssh as u in workspace ws (u+ws@host).
func (s *isoServer) exec(u *isoUser, command string) (string, string, int) {
	s.t.Helper()
	args := append(s.sshArgs(u), "-p", s.port, u.name+"+ws@127.0.0.1", command)
	return s.run("", "ssh", args...)
}

func (s *isoServer) mustExec(u *isoUser, command string) string {
	s.t.Helper()
	out, errs, code := s.exec(u, command)
	if code != 0 {
		s.t.Fatalf("%s: %q: exit %d: %s%s", u.name, command, code, out, errs)
	}
	return out
}

// denied runs a command as u that the kernel must refuse.
func (s *isoServer) denied(u *isoUser, command string) {
	s.t.Helper()
	out, errs, code := s.exec(u, command)
	if code == 0 || !strings.Contains(errs+out, "ermission denied") && !strings.Contains(errs+out, "not permitted") {
		s.t.Errorf("%s ran %q: exit %d, stdout %.200q, stderr %.200q; want permission denied", u.name, command, code, out, errs)
	}
}

// background starts command over ssh as u and returns the first line it
// prints; the command runs until the test ends.
func (s *isoServer) background(u *isoUser, command string) string {
	s.t.Helper()
	args := append(s.sshArgs(u), "-p", s.port, u.name+"+ws@127.0.0.1", command)
	c := exec.Command("ssh", args...)
	out, err := c.StdoutPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { c.Process.Kill(); c.Wait() })
	line := make(chan string, 1)
	go func() {
		r := bufio.NewReader(out)
		l, _ := r.ReadString('\n')
		line <- strings.TrimSpace(l)
		io.Copy(io.Discard, r)
	}()
	select {
	case l := <-line:
		return l
	case <-time.After(30 * time.Second):
		s.t.Fatalf("%s: %q printed nothing", u.name, command)
	}
	return ""
}

func ownerOf(t *testing.T, path string) int {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return int(fi.Sys().(*syscall.Stat_t).Uid)
}

// TestIsolationAccounts is the attack list of issue 26, tried by alice on
// bob with real OpenSSH clients against a server in accounts mode.
func TestIsolationAccounts(t *testing.T) {
	// A fake GitHub (never called) turns the git credential socket on.
	e := accountsEnv(t, "CODETERM_GITHUB_CLIENT_ID=test-client", "CODETERM_GITHUB_CLIENT_SECRET=server-secret-value",
		"CODETERM_GITHUB_API_URL=http://127.0.0.1:9/", "CODETERM_GITHUB_WEB_URL=http://127.0.0.1:9/")
	alice, bob := e.addAccountUser("alice"), e.addAccountUser("bob")
	e.ok("workspace", "create", "ws", "--owner", "alice")
	e.ok("workspace", "create", "ws", "--owner", "bob")
	srv := serveLogged(t, e)
	bobWS := filepath.Join(e.data, "workspaces", "bob", "ws")
	aliceWS := filepath.Join(e.data, "workspaces", "alice", "ws")

	list := e.ok("user", "list")
	if !regexp.MustCompile(`(?m)^alice\s.*ct-alice\S* \(created\)`).MatchString(list) {
		t.Errorf("user list does not show alice's account: %q", list)
	}

	t.Run("identity", func(t *testing.T) {
		a := strings.Fields(srv.mustExec(alice, "id -u; echo $HOME"))
		b := strings.Fields(srv.mustExec(bob, "id -u; echo $HOME"))
		if len(a) != 2 || len(b) != 2 {
			t.Fatalf("id/HOME: %q %q", a, b)
		}
		if a[0] == "0" || a[0] == strconv.Itoa(os.Getuid()) || a[0] == b[0] || a[0] != strconv.Itoa(alice.uid) {
			t.Errorf("alice runs as uid %s (bob %s, server %d, her account %d)", a[0], b[0], os.Getuid(), alice.uid)
		}
		if a[1] == b[1] {
			t.Errorf("alice and bob share HOME %s", a[1])
		}
		// exec on a PTY of its own: the process and its terminal are hers.
		args := append(srv.sshArgs(alice), "-tt", "-p", srv.port, alice.name+"+ws@127.0.0.1", `echo "$(id -u) $(stat -c %u "$(tty)")"`)
		out, errs, code := srv.run("", "ssh", args...)
		if want := fmt.Sprintf("%d %d", alice.uid, alice.uid); code != 0 || strings.TrimSpace(out) != want {
			t.Errorf("exec with a PTY: exit %d %q %q, want %q", code, out, errs, want)
		}
		fi, err := os.Stat(aliceWS)
		if err != nil || fi.Mode().Perm() != 0o700 || ownerOf(t, aliceWS) != alice.uid {
			t.Errorf("alice's workspace: %v %v", fi.Mode(), err)
		}
	})

	// The shell integration's scripts are the server's; a shell running as
	// the user's account must be able to read them, or no command is
	// tracked (and bash complains at every start).
	t.Run("shell integration", func(t *testing.T) {
		args := append(srv.sshArgs(alice), "-tt", "-p", srv.port, alice.name+"+ws@127.0.0.1")
		out, errs, code := srv.run("false\rexit\r", "ssh", args...)
		if !strings.Contains(out, "\x1b]133;D;1") {
			t.Errorf("no command-finished mark with status 1 from alice's shell: exit %d, stdout %q, stderr %q", code, out, errs)
		}
		if strings.Contains(out, "ermission denied") || strings.Contains(out, "No such file") {
			t.Errorf("alice's shell could not load the integration: %q", out)
		}
	})

	srv.mustExec(bob, "echo bob-secret > secret.txt")

	t.Run("shell and exec", func(t *testing.T) {
		srv.denied(alice, "cat ../../bob/ws/secret.txt")
		srv.denied(alice, "cat "+bobWS+"/secret.txt")
		srv.denied(alice, "echo x > "+bobWS+"/planted.txt")
		srv.denied(alice, "ls "+filepath.Join(e.data, "workspaces", "bob"))
		srv.mustExec(alice, "ln -s "+bobWS+" link")
		srv.denied(alice, "cat link/secret.txt")
	})

	t.Run("sftp", func(t *testing.T) {
		dst := t.TempDir()
		// The paths are right: bob gets his file by the same absolute path.
		bobArgs := append(srv.sshArgs(bob), "-P", srv.port, "-b", "-", bob.name+"+ws@127.0.0.1")
		if out, errs, code := srv.run("get "+bobWS+"/secret.txt "+dst+"/bobs\n", "sftp", bobArgs...); code != 0 {
			t.Fatalf("bob's own sftp get: %s %s", out, errs)
		}
		// OpenSSH's sftp stats before it reads: the kernel's EACCES on
		// bob's directory reaches alice as "not found" or "denied".
		// sftp starts in HOME (<data>/homes/alice); the workspace is ~/ws/ws.
		for _, path := range []string{"../../workspaces/bob/ws/secret.txt", bobWS + "/secret.txt", "ws/ws/link/secret.txt"} {
			args := append(srv.sshArgs(alice), "-P", srv.port, "-b", "-", alice.name+"+ws@127.0.0.1")
			out, errs, code := srv.run("get "+path+" "+dst+"/got\n", "sftp", args...)
			if code == 0 || !regexp.MustCompile(`ermission denied|not found`).MatchString(errs) {
				t.Errorf("sftp get %s: exit %d: %s %s", path, code, out, errs)
			}
			if _, err := os.Stat(dst + "/got"); err == nil {
				t.Fatalf("alice got bob's file with sftp get %s", path)
			}
		}
		src := filepath.Join(dst, "up.txt")
		os.WriteFile(src, []byte("upload"), 0o644)
		args := append(srv.sshArgs(alice), "-P", srv.port, "-b", "-", alice.name+"+ws@127.0.0.1")
		if out, errs, code := srv.run("put "+src+" "+bobWS+"/up.txt\n", "sftp", args...); code == 0 {
			t.Errorf("sftp put into bob's workspace: %s %s", out, errs)
		}
		if out, errs, code := srv.run("put "+src+" ws/ws/up.txt\n", "sftp", args...); code != 0 {
			t.Fatalf("sftp put: %s %s", out, errs)
		}
		if uid := ownerOf(t, filepath.Join(aliceWS, "up.txt")); uid != alice.uid {
			t.Errorf("sftp upload belongs to uid %d, want alice's %d", uid, alice.uid)
		}
	})

	t.Run("scp and rsync", func(t *testing.T) {
		dst := t.TempDir()
		for _, legacy := range []bool{false, true} {
			args := append(srv.sshArgs(alice), "-P", srv.port)
			if legacy {
				args = append(args, "-O")
			}
			args = append(args, alice.name+"+ws@127.0.0.1:"+bobWS+"/secret.txt", dst+"/got")
			if out, errs, code := srv.run("", "scp", args...); code == 0 || !regexp.MustCompile(`ermission denied|No such file`).MatchString(errs) {
				t.Errorf("scp (legacy %v): exit %d: %s %s", legacy, code, out, errs)
			}
		}
		rsh := "ssh " + strings.Join(srv.sshArgs(alice), " ") + " -p " + srv.port
		out, errs, code := srv.run("", "rsync", "-e", rsh, alice.name+"+ws@127.0.0.1:"+bobWS+"/secret.txt", dst+"/got")
		if code == 0 || !strings.Contains(errs, "ermission denied") {
			t.Errorf("rsync get: exit %d: %s %s", code, out, errs)
		}
		os.WriteFile(dst+"/up", []byte("x"), 0o644)
		// rsync's receiver fails with status 3 before it can say why.
		out, errs, code = srv.run("", "rsync", "-e", rsh, dst+"/up", alice.name+"+ws@127.0.0.1:"+bobWS+"/up")
		if code == 0 {
			t.Errorf("rsync put: exit %d: %s %s", code, out, errs)
		}
		if _, err := os.Stat(filepath.Join(bobWS, "up")); err == nil {
			t.Error("alice's rsync put a file into bob's workspace")
		}
	})

	t.Run("data dir and server", func(t *testing.T) {
		for _, f := range []string{"jwt.secret", "ssh_host_ed25519_key", "codeterm.db"} {
			srv.denied(alice, "cat "+filepath.Join(e.data, f))
		}
		srv.denied(alice, "ls "+e.data)
		out, errs, code := srv.exec(alice, binary+" token bob --data "+e.data)
		if code == 0 || strings.Count(out, ".") == 2 {
			t.Errorf("codeterm token bob in alice's shell: exit %d: %q %q", code, out, errs)
		}
		srv.denied(alice, fmt.Sprintf("cat /proc/%d/environ", srv.cmd.Process.Pid))
		if env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", srv.cmd.Process.Pid)); err != nil || !bytes.Contains(env, []byte("PATH=")) {
			t.Fatalf("the test cannot read the server's environment: %v", err)
		}
		bobShell := srv.background(bob, "echo $$; exec sleep 300")
		srv.denied(alice, "kill "+bobShell)
		srv.denied(alice, "cat /proc/"+bobShell+"/environ") // where bob's credential id is
	})

	t.Run("dotfiles", func(t *testing.T) {
		srv.mustExec(alice, "echo 'echo ALICE-WAS-HERE' >> ~/.bashrc")
		if out := srv.mustExec(bob, "cat ~/.bashrc 2>/dev/null; bash -ic 'echo started' 2>/dev/null"); strings.Contains(out, "ALICE-WAS-HERE") {
			t.Errorf("alice's ~/.bashrc ran in bob's shell: %q", out)
		}
	})

	t.Run("git credential", func(t *testing.T) {
		sock := filepath.Join(e.data, "git-credential.sock")
		bobCred := srv.background(bob, "echo $CODETERM_GIT_CREDENTIAL; exec sleep 300")
		if !strings.Contains(bobCred, ".") {
			t.Fatalf("bob's exec has no credential id: %q", bobCred)
		}
		helper := "printf 'protocol=http\\nhost=127.0.0.1:9\\n\\n' | CODETERM_GIT_CREDENTIAL=" + bobCred + " " + binary + " git-credential --socket " + sock + " get"
		_, aliceErr, _ := srv.exec(alice, helper)
		if !strings.Contains(aliceErr, "not a codeterm terminal session") {
			t.Errorf("bob's credential id from alice's shell: %q", aliceErr)
		}
		_, bobErr, _ := srv.exec(bob, helper)
		if !strings.Contains(bobErr, "no GitHub token") {
			t.Errorf("bob's own credential id: %q", bobErr)
		}
	})

	t.Run("ownership", func(t *testing.T) {
		srv.mustExec(alice, "mkdir -p made && touch made/by-shell")
		if uid := ownerOf(t, filepath.Join(aliceWS, "made", "by-shell")); uid != alice.uid {
			t.Errorf("shell file belongs to %d, want %d", uid, alice.uid)
		}
		// A clone from a real git http-backend, as the browser starts it.
		repos := t.TempDir()
		git := gittest.Bin(t)
		bare := filepath.Join(repos, "proj.git")
		if out, err := exec.Command(git, "init", "-q", "--bare", bare).CombinedOutput(); err != nil {
			t.Fatalf("%v %s", err, out)
		}
		work := t.TempDir()
		for _, args := range [][]string{{"clone", "-q", bare, work}, {"-C", work, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "one"}, {"-C", work, "push", "-q", "origin", "HEAD"}} {
			if out, err := exec.Command(git, args...).CombinedOutput(); err != nil {
				t.Fatalf("git %v: %v %s", args, err, out)
			}
		}
		hs := httptest.NewServer(gittest.Backend(t, repos))
		defer hs.Close()
		token := strings.TrimSpace(e.ok("token", "alice"))
		browser := func(vars ...string) []byte {
			node := exec.Command("node", filepath.Join("testdata", "browser.mjs"))
			node.Env = append(append(os.Environ(), "SIO_DIR="+sioDir(t), "CODETERM_URL="+srv.web, "TOKEN="+token), vars...)
			out, err := node.CombinedOutput()
			if err != nil {
				t.Fatalf("socket.io-client: %v\n%s", err, out)
			}
			return out
		}
		var cloned struct {
			UID         int
			WorkspaceID string
		}
		out := browser("MODE=clone", "REPO_URL="+hs.URL+"/proj.git")
		if err := json.Unmarshal(out, &cloned); err != nil || cloned.UID != alice.uid {
			t.Errorf("the browser terminal runs as %s, want alice's uid %d", out, alice.uid)
		}
		browserWS := filepath.Join(e.data, "workspaces", "alice", "browser")

		// A pull from the browser: its files are alice's too...
		commit := func(path string) {
			os.MkdirAll(filepath.Dir(filepath.Join(work, path)), 0o755)
			os.WriteFile(filepath.Join(work, path), []byte(path), 0o644)
			for _, args := range [][]string{{"-C", work, "add", "-A"}, {"-C", work, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", path}, {"-C", work, "push", "-q", "origin", "HEAD"}} {
				if out, err := exec.Command(git, args...).CombinedOutput(); err != nil {
					t.Fatalf("git %v: %v %s", args, err, out)
				}
			}
		}
		commit("pulled.txt")
		if out := browser("MODE=pull", "WS_ID="+cloned.WorkspaceID); !strings.Contains(string(out), `"synced"`) {
			t.Fatalf("pull: %s", out)
		}
		if uid := ownerOf(t, filepath.Join(browserWS, "pulled.txt")); uid != alice.uid {
			t.Errorf("pulled file belongs to uid %d, want alice's %d", uid, alice.uid)
		}
		// ...and a symlink she planted does not lead the server's writes
		// out of her workspace.
		outside, err := os.MkdirTemp("", "codeterm-iso-outside-")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(outside)
		// Excluded, the link is no local change that would stop the pull.
		srv.mustExec(alice, "cd ../browser && ln -s "+outside+" sub && echo sub >> .git/info/exclude")
		commit("sub/evil.txt")
		out = browser("MODE=pull", "WS_ID="+cloned.WorkspaceID)
		if !strings.Contains(string(out), "escapes") {
			t.Errorf("pull through a planted symlink: %s", out)
		}
		if _, err := os.Stat(filepath.Join(outside, "evil.txt")); err == nil {
			t.Errorf("the server's pull wrote through alice's symlink into %s (%s)", outside, out)
		}
		// The CLI's clone takes the same path.
		e.ok("workspace", "create", "cloned", "--owner", "alice", "--repo", hs.URL+"/proj.git")
		for _, ws := range []string{"browser", "cloned"} {
			n := 0
			filepath.Walk(filepath.Join(e.data, "workspaces", "alice", ws), func(p string, _ os.FileInfo, err error) error {
				n++
				if err == nil && ownerOf(t, p) != alice.uid {
					t.Errorf("%s belongs to uid %d, want alice's %d", p, ownerOf(t, p), alice.uid)
					return filepath.SkipAll
				}
				return nil
			})
			if n < 10 {
				t.Errorf("%s has %d files: not a clone", ws, n)
			}
		}
		if _, err := os.Stat(filepath.Join(e.data, "workspaces", "alice", "browser", "from-terminal")); err != nil {
			t.Errorf("the browser terminal's file: %v", err)
		}
	})

	t.Run("shared session", func(t *testing.T) {
		args := append(srv.sshArgs(alice), "-tt", "-p", srv.port, alice.name+"@127.0.0.1", "ws")
		c := exec.Command("ssh", args...)
		in, _ := c.StdinPipe()
		out, _ := c.StdoutPipe()
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { c.Process.Kill(); c.Wait() }()
		io.WriteString(in, "echo UID=$(id -u)END HOME=$HOME\r")
		got := make(chan string, 1)
		go func() {
			var b []byte
			buf := make([]byte, 4096)
			re := regexp.MustCompile(`UID=(\d+)END HOME=(\S+)`)
			for {
				n, err := out.Read(buf)
				b = append(b, buf[:n]...)
				if m := re.FindSubmatch(b); m != nil {
					got <- string(m[1]) + " " + string(m[2])
					return
				}
				if err != nil {
					got <- "no answer: " + string(b)
					return
				}
			}
		}()
		select {
		case g := <-got:
			if want := fmt.Sprintf("%d %s", alice.uid, filepath.Join(e.data, "homes", "alice")); g != want {
				t.Errorf("alice's shared session: %q, want %q", g, want)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the shared session did not answer")
		}
	})

	t.Run("agent forwarding", func(t *testing.T) {
		agent := exec.Command("ssh-agent", "-D", "-a", filepath.Join(t.TempDir(), "agent.sock"))
		if err := agent.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { agent.Process.Kill(); agent.Wait() }()
		sock := agent.Args[3]
		for deadline := time.Now().Add(10 * time.Second); ; {
			if _, err := os.Stat(sock); err == nil {
				break
			} else if time.Now().After(deadline) {
				t.Fatal("ssh-agent did not start")
			}
		}
		args := append(srv.sshArgs(alice), "-A", "-p", srv.port, alice.name+"+ws@127.0.0.1",
			`stat -c '%u %a' "$SSH_AUTH_SOCK" "$(dirname "$SSH_AUTH_SOCK")"`)
		c := exec.Command("ssh", args...)
		c.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
		out, err := c.CombinedOutput()
		want := fmt.Sprintf("%d 600\n%d 700\n", alice.uid, alice.uid)
		// bash reads alice's own ~/.bashrc (from the dotfiles test) under ssh.
		if err != nil || !strings.HasSuffix(string(out), want) {
			t.Errorf("agent socket and its directory: %v %q, want %q", err, out, want)
		}

		// From bob's own shell, the agent socket of alice's terminal
		// session (named while her session holds it) refuses him; alice's
		// shell reaches it.
		hold := exec.Command("ssh", append(srv.sshArgs(alice), "-tt", "-A", "-p", srv.port, alice.name+"+ws@127.0.0.1")...)
		hold.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
		stdin, _ := hold.StdinPipe()
		stdout, _ := hold.StdoutPipe()
		if err := hold.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { stdin.Close(); hold.Process.Kill(); hold.Wait() }()
		io.WriteString(stdin, "echo sock=$SSH_AUTH_SOCK\r")
		found := make(chan string, 1)
		go func() {
			// The echoed command line has "sock=$", the answer a path.
			re := regexp.MustCompile(`sock=(/[^\s]+)`)
			var seen []byte
			buf := make([]byte, 4096)
			for {
				n, err := stdout.Read(buf)
				seen = append(seen, buf[:n]...)
				if m := re.FindSubmatch(seen); m != nil {
					found <- string(m[1])
					return
				}
				if err != nil {
					found <- ""
					return
				}
			}
		}()
		var path string
		select {
		case path = <-found:
		case <-time.After(30 * time.Second):
		}
		if path == "" {
			t.Fatal("alice's terminal session named no agent socket")
		}
		probe := `SSH_AUTH_SOCK=` + path + ` ssh-add -l; echo "rc=$?"`
		if out, errOut, _ := srv.run("", "ssh", append(srv.sshArgs(bob), "-p", srv.port, bob.name+"+ws@127.0.0.1", probe)...); !strings.Contains(out, "rc=2") || !strings.Contains(errOut, "Permission denied") {
			t.Errorf("bob's shell with alice's agent socket: %q %q, want ssh-add refused (Permission denied, rc=2)", out, errOut)
		}
		if out, errOut, _ := srv.run("", "ssh", append(srv.sshArgs(alice), "-p", srv.port, alice.name+"+ws@127.0.0.1", probe)...); !strings.Contains(out, "rc=1") {
			t.Errorf("alice's shell with her agent socket: %q %q, want an agent with no identities (rc=1)", out, errOut)
		}
		// And through bob's sftp, which runs as his account too: the
		// directory does not list, while alice's sftp lists the socket.
		dir := filepath.Dir(path)
		sftpArgs := func(u *isoUser) []string {
			return append(srv.sshArgs(u), "-P", srv.port, "-b", "-", u.name+"+ws@127.0.0.1")
		}
		if out, errs, code := srv.run("ls -l "+dir+"\n", "sftp", sftpArgs(bob)...); code == 0 || !strings.Contains(errs, "ermission denied") || strings.Contains(out, "agent.sock") {
			t.Errorf("bob's sftp lists alice's agent directory: exit %d: %q %q", code, out, errs)
		}
		if out, errs, code := srv.run("ls -l "+dir+"\n", "sftp", sftpArgs(alice)...); code != 0 || !strings.Contains(out, "agent.sock") {
			t.Errorf("alice's sftp does not list her agent socket: exit %d: %q %q", code, out, errs)
		}
	})

	t.Run("unix socket forward", func(t *testing.T) {
		dir, err := os.MkdirTemp("", "codeterm-iso-sock-") // t.TempDir's parent is 0700
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		os.Chmod(dir, 0o755)
		private, open := filepath.Join(dir, "private.sock"), filepath.Join(dir, "open.sock")
		for _, p := range []string{private, open} {
			ln, err := net.Listen("unix", p)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					io.WriteString(c, "hello from "+filepath.Base(p)+"\n")
					c.Close()
				}
			}()
		}
		os.Chmod(private, 0o600)
		os.Chmod(open, 0o666)
		greeting := func(target string) string {
			local := filepath.Join(t.TempDir(), "fwd.sock")
			args := append(srv.sshArgs(alice), "-N", "-L", local+":"+target, "-p", srv.port, alice.name+"+ws@127.0.0.1")
			c := exec.Command("ssh", args...)
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { c.Process.Kill(); c.Wait() }()
			var conn net.Conn
			for deadline := time.Now().Add(10 * time.Second); ; {
				var err error
				if conn, err = net.Dial("unix", local); err == nil {
					break
				} else if time.Now().After(deadline) {
					t.Fatalf("ssh -L did not listen: %v", err)
				}
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			b, _ := io.ReadAll(conn)
			return string(b)
		}
		if got := greeting(open); got != "hello from open.sock\n" {
			t.Errorf("forward to a socket alice may open: %q", got)
		}
		if got := greeting(private); got != "" {
			t.Errorf("forward to root's 0600 socket reached it: %q", got)
		}
	})

	t.Run("user rm", func(t *testing.T) {
		victim := e.addAccountUser("carol")
		osName := "ct-carol"
		if _, err := user.Lookup(osName); err != nil {
			t.Fatalf("carol's account: %v", err)
		}
		e.ok("workspace", "create", "ws", "--owner", "carol")
		srv.background(victim, "echo up; exec sleep 300")
		out := e.ok("user", "rm", "carol")
		if !strings.Contains(out, "OS account "+osName) {
			t.Errorf("user rm: %q", out)
		}
		if _, err := user.Lookup(osName); err == nil {
			t.Error("user rm left the OS account")
		}
	})
}

// TestIsolationMappedAccount: --os-user maps an existing account, which
// user rm keeps; root and the server's own account are refused.
func TestIsolationMappedAccount(t *testing.T) {
	e := accountsEnv(t)
	name := fmt.Sprintf("ctmap%d", os.Getpid()%100000)
	if out, err := exec.Command("useradd", "--system", "--no-create-home", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("userdel", name).Run() })
	pub := e.newKey("m")
	if out := e.ok("user", "add", "mapped", "--key", pub, "--os-user", name); !strings.Contains(out, "OS account "+name) {
		t.Fatalf("user add --os-user: %q", out)
	}
	e.fails("root", "user", "add", "rooted", "--os-user", "root")
	if list := e.ok("user", "list"); !strings.Contains(list, name+" (mapped)") {
		t.Errorf("user list: %q", list)
	}
	if out := e.ok("user", "rm", "mapped"); !strings.Contains(out, "kept") {
		t.Errorf("user rm: %q", out)
	}
	if _, err := user.Lookup(name); err != nil {
		t.Errorf("user rm removed an account codeterm only mapped: %v", err)
	}
}

// TestIsolationForkBomb: with limits.pids, alice's runaway fork loop hits
// her own limit while bob's session keeps answering. The loop is bounded
// (it would stop by itself), and the test kills what is left.
func TestIsolationForkBomb(t *testing.T) {
	if _, err := os.Stat("/sys/fs/cgroup/pids"); err != nil {
		if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err != nil {
			t.Fatal("no pids cgroup controller on this machine")
		}
	}
	const limit, memory = 40, 256 << 20
	e := accountsEnv(t, fmt.Sprintf("CODETERM_LIMITS_PIDS=%d", limit), fmt.Sprintf("CODETERM_LIMITS_MEMORY=%d", memory))
	alice, bob := e.addAccountUser("alice"), e.addAccountUser("bob")
	e.ok("workspace", "create", "ws", "--owner", "alice")
	e.ok("workspace", "create", "ws", "--owner", "bob")
	srv := serveLogged(t, e)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		isolation.KillAll(ctx, uint32(alice.uid))
	})
	srv.background(alice, "echo bombing; for i in $(seq 400); do sleep 120 & done 2>/dev/null; wait")
	deadline := time.Now().Add(20 * time.Second)
	for n := 0; n < limit-5 && time.Now().Before(deadline); {
		n = countProcs(uint32(alice.uid))
	}
	if n := countProcs(uint32(alice.uid)); n > limit {
		t.Errorf("alice runs %d processes, over her limit of %d", n, limit)
	}
	if out := srv.mustExec(bob, "echo bob-alive"); !strings.Contains(out, "bob-alive") {
		t.Errorf("bob's session: %q", out)
	}
	if strings.Contains(srv.log.String(), "resource limits off") {
		t.Errorf("limits were not applied: %s", srv.log)
	}
	// The memory limit is set on alice's cgroup (v1 or v2) too.
	sys, _ := isolation.NewSystem(e.data)
	var limits []string
	for _, pat := range []string{"/sys/fs/cgroup/*/", "/sys/fs/cgroup/*/*/", "/sys/fs/cgroup/*/*/*/"} {
		for _, f := range []string{"memory.limit_in_bytes", "memory.max"} {
			m, _ := filepath.Glob(pat + sys.CgroupName() + "/alice/" + f)
			limits = append(limits, m...)
		}
	}
	if len(limits) != 1 {
		t.Fatalf("alice's memory cgroup: %v", limits)
	}
	if b, err := os.ReadFile(limits[0]); err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(memory) {
		t.Errorf("%s: %q %v, want %d", limits[0], b, err, memory)
	}
}

func countProcs(uid uint32) int {
	n := 0
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		var st syscall.Stat_t
		if syscall.Stat("/proc/"+e.Name(), &st) == nil && st.Uid == uid {
			n++
		}
	}
	return n
}

// TestIsolationSingleAndShared: single mode refuses a second user and
// points at accounts; shared mode warns at every start.
func TestIsolationSingleAndShared(t *testing.T) {
	e := newEnv(t)
	e.vars = []string{"CODETERM_SECURITY_ISOLATION=single"}
	e.ok("user", "add", "first")
	e.fails("security.isolation: accounts", "user", "add", "second")

	e2 := newEnv(t)
	e2.vars = []string{"CODETERM_SECURITY_ISOLATION=shared"}
	srv := serveLogged(t, e2)
	srv.log.waitFor(t, "security.isolation is shared", 10*time.Second)
}

// TestIsolationAccountsNeedsPrivilege: accounts mode refuses to start
// without the privilege to switch users, and says why.
func TestIsolationAccountsNeedsPrivilege(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o777)
	c := exec.Command(binary, "user", "list", "--data", filepath.Join(dir, "data"))
	c.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "CODETERM_SECURITY_ISOLATION=accounts"}
	c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := c.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "may not switch") {
		t.Fatalf("accounts mode as nobody: %v %s", err, out)
	}
}

// sioDir is webbridge/e2e, whose node_modules hold socket.io-client (npm ci
// there, as .ci/run does).
func sioDir(t *testing.T) string {
	t.Helper()
	dir, _ := filepath.Abs(filepath.Join("..", "..", "webbridge", "e2e"))
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "socket.io-client")); err != nil {
		t.Fatalf("socket.io-client is not installed: (cd webbridge/e2e && npm ci): %v", err)
	}
	return dir
}
