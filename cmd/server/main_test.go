package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/codeterm/codeterm/auth"
	"github.com/codeterm/codeterm/store"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "codeterm-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "codeterm")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is a temporary installation: a data dir and a HOME with an SSH key.
type env struct {
	t       *testing.T
	data    string
	home    string
	keyFile string
	extra   []string // more environment (CODETERM_* settings)
}

func newEnv(t *testing.T) *env {
	t.Helper()
	root := t.TempDir()
	e := &env{t: t, data: filepath.Join(root, "data"), home: filepath.Join(root, "home")}
	os.MkdirAll(filepath.Join(e.home, ".ssh"), 0o700)
	e.keyFile = e.newKey("laptop")
	return e
}

// newKey writes a fresh public key file and returns its path.
func (e *env) newKey(name string) string {
	signer, _, err := auth.LoadOrCreateHostKey(filepath.Join(e.t.TempDir(), name))
	if err != nil {
		e.t.Fatal(err)
	}
	p := filepath.Join(e.home, ".ssh", name+".pub")
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))) + " " + name + "\n"
	if err := os.WriteFile(p, []byte(line), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) cmd(args ...string) *exec.Cmd {
	c := exec.Command(binary, append(args, "--data", e.data)...)
	c.Env = append([]string{"HOME=" + e.home, "PATH=" + os.Getenv("PATH"), "USER=root"}, e.extra...)
	return c
}

// run runs the binary and returns stdout, stderr and the exit code.
func (e *env) run(args ...string) (string, string, int) {
	e.t.Helper()
	c := e.cmd(args...)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func (e *env) ok(args ...string) string {
	e.t.Helper()
	out, errs, code := e.run(args...)
	if code != 0 {
		e.t.Fatalf("codeterm %s: exit %d: %s", strings.Join(args, " "), code, errs)
	}
	return out
}

func (e *env) fails(want string, args ...string) {
	e.t.Helper()
	out, errs, code := e.run(args...)
	if code == 0 {
		e.t.Fatalf("codeterm %s succeeded: %s", strings.Join(args, " "), out)
	}
	if !strings.Contains(errs, want) {
		e.t.Fatalf("codeterm %s: stderr %q does not say %q", strings.Join(args, " "), errs, want)
	}
}

func (e *env) authService() (*auth.Service, func()) {
	e.t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(e.data, "codeterm.db"))
	if err != nil {
		e.t.Fatal(err)
	}
	secret, err := os.ReadFile(filepath.Join(e.data, "jwt.secret"))
	if err != nil {
		e.t.Fatal(err)
	}
	return auth.New(st, secret, time.Hour, time.Minute), func() { st.Close() }
}

func TestUserCommands(t *testing.T) {
	e := newEnv(t)
	if out := e.ok("user", "add", "alice", "--key", e.keyFile); !strings.Contains(out, "added user alice with 1 key") {
		t.Fatalf("user add: %q", out)
	}
	e.ok("user", "add", "bob")
	e.fails(`user "alice" already exists`, "user", "add", "alice")
	e.fails("invalid user name", "user", "add", "Alice")
	e.fails("invalid user name", "user", "add", "a/b")
	bad := filepath.Join(t.TempDir(), "bad.pub")
	os.WriteFile(bad, []byte("hello\n"), 0o644)
	e.fails("not an SSH public key", "user", "add", "carol", "--key", bad)
	if out, _, _ := e.run("user", "list"); strings.Contains(out, "carol") {
		t.Fatal("a failed user add left the user behind")
	}
	e.fails("not an SSH public key", "user", "key", "add", "bob", bad)
	e.fails("already belongs to another user", "user", "key", "add", "bob", e.keyFile)
	e.fails(`unknown user "zed"`, "user", "key", "add", "zed", e.keyFile)

	second := e.newKey("desk")
	if out := e.ok("user", "key", "add", "bob", second); !strings.Contains(out, "SHA256:") {
		t.Fatalf("key add: %q", out)
	}
	list := e.ok("user", "list")
	fp := regexp.MustCompile(`bob\s+(SHA256:\S+)`).FindStringSubmatch(list)
	if fp == nil || !strings.Contains(list, "alice") {
		t.Fatalf("user list: %q", list)
	}
	e.fails("has no key", "user", "key", "rm", "alice", fp[1])
	e.ok("user", "key", "rm", "bob", fp[1])
	if strings.Contains(e.ok("user", "list"), fp[1]) {
		t.Fatal("key still listed after rm")
	}
	e.ok("user", "rm", "bob")
	e.fails(`unknown user "bob"`, "user", "rm", "bob")
	e.fails("usage", "user", "frobnicate")
	e.fails("wrong number of arguments", "user", "add")
}

func TestTokenAndRevoke(t *testing.T) {
	e := newEnv(t)
	e.ok("user", "add", "alice")
	out := e.ok("token", "alice", "--ttl", "1h")
	tok := strings.TrimSpace(out)
	if strings.Count(tok, ".") != 2 || strings.Contains(tok, "\n") || out != tok+"\n" {
		t.Fatalf("token output must be just the JWT, got %q", out)
	}
	svc, done := e.authService()
	c, u, err := svc.Verify(context.Background(), tok)
	done()
	if err != nil || u.Name != "alice" {
		t.Fatalf("token does not verify: %v", err)
	}
	if ttl := c.ExpiresAt.Sub(c.IssuedAt.Time); ttl != time.Hour {
		t.Fatalf("ttl %v", ttl)
	}
	e.fails(`unknown user "nobody"`, "token", "nobody")
	e.fails("invalid value", "token", "alice", "--ttl", "soon")

	e.ok("user", "revoke", "alice")
	svc, done = e.authService()
	defer done()
	if _, _, err := svc.Verify(context.Background(), tok); err == nil {
		t.Fatal("token still valid after user revoke")
	}
}

func TestLoginLink(t *testing.T) {
	e := newEnv(t)
	e.ok("user", "add", "alice")
	out := strings.TrimSpace(e.ok("login-link", "alice"))
	m := regexp.MustCompile(`^http://127\.0\.0\.1:8080/login\?code=([A-Za-z0-9_-]{43})$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("login link %q", out)
	}
	svc, done := e.authService()
	defer done()
	if _, u, err := svc.ExchangeCode(context.Background(), m[1]); err != nil || u.Name != "alice" {
		t.Fatalf("exchange: %v", err)
	}
	if _, _, err := svc.ExchangeCode(context.Background(), m[1]); err == nil {
		t.Fatal("code used twice")
	}
	e.fails(`unknown user "bob"`, "login-link", "bob")
}

func TestVersionAndUsage(t *testing.T) {
	e := newEnv(t)
	if out := e.ok("version"); !strings.HasPrefix(out, "codeterm ") {
		t.Fatalf("version: %q", out)
	}
	_, errs, code := e.run("frob")
	if code != 2 || !strings.Contains(errs, "unknown command") || !strings.Contains(errs, "Usage:") {
		t.Fatalf("unknown command: %d %q", code, errs)
	}
	e.fails("config", "user", "list", "--config", filepath.Join(t.TempDir(), "missing.yaml"))
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfg, []byte("http:\n  adress: x\n"), 0o600)
	e.fails(`c.yaml:2: unknown key "http.adress"`, "user", "list", "--config", cfg)
}

// serveProc starts codeterm serve and returns the URL it printed and the login link.
func serveProc(t *testing.T, e *env) (c *exec.Cmd, base, link string, output *bytes.Buffer) {
	t.Helper()
	c = e.cmd("serve", "--http-addr", "127.0.0.1:0", "--ssh-addr", "127.0.0.1:0")
	stdout, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	output = &bytes.Buffer{}
	c.Stderr = io.Discard
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Process.Kill(); c.Wait() })
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.After(30 * time.Second)
	for base == "" || link == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("serve exited early: %s", output)
			}
			output.WriteString(l + "\n")
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), "web:"); ok {
				base = strings.TrimSpace(v)
			}
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), "browser:"); ok {
				link = strings.TrimSpace(v)
			}
		case <-deadline:
			t.Fatalf("serve printed no connect info: %s", output)
		}
	}
	go func() {
		for l := range lines {
			_ = l
		}
	}()
	return c, base, link, output
}

func TestServeFirstRun(t *testing.T) {
	e := newEnv(t)
	os.WriteFile(filepath.Join(e.home, ".ssh", "authorized_keys"), []byte("# nothing\n"), 0o600)
	c, base, link, _ := serveProc(t, e)

	for f, mode := range map[string]os.FileMode{"jwt.secret": 0o600, "ssh_host_ed25519_key": 0o600, "codeterm.db": 0o600} {
		fi, err := os.Stat(filepath.Join(e.data, f))
		if err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: %v %v", f, err, fi)
		}
	}
	if fi, _ := os.Stat(e.data); fi.Mode().Perm() != 0o700 {
		t.Errorf("data dir mode %v", fi.Mode())
	}
	hostKey, _ := os.ReadFile(filepath.Join(e.data, "ssh_host_ed25519_key"))

	res, err := http.Get(base + "/api/health")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var health map[string]any
	if res.StatusCode != 200 || json.Unmarshal(body, &health) != nil || health["status"] != "healthy" {
		t.Fatalf("health: %d %s", res.StatusCode, body)
	}
	for _, secret := range []string{"root", e.data, e.home} {
		if strings.Contains(string(body), secret) {
			t.Fatalf("health reveals %q: %s", secret, body)
		}
	}

	code := strings.TrimPrefix(link[strings.Index(link, "?code="):], "?code=")
	res, err = http.Post(base+"/api/auth/exchange", "application/json", strings.NewReader(`{"code":"`+code+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	var ex struct{ Token string }
	json.NewDecoder(res.Body).Decode(&ex)
	res.Body.Close()
	if res.StatusCode != 200 || ex.Token == "" {
		t.Fatalf("exchange of the printed link: %d", res.StatusCode)
	}
	req, _ := http.NewRequest("GET", base+"/api/workspaces", nil)
	req.Header.Set("Authorization", "Bearer "+ex.Token)
	res, err = http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("workspaces with token: %v %v", err, res.StatusCode)
	}
	res.Body.Close()

	// The owner account is named after the OS user and got the keys of ~/.ssh.
	list := e.ok("user", "list")
	if !regexp.MustCompile(`(?m)^root\s+SHA256:`).MatchString(list) {
		t.Fatalf("owner account: %q", list)
	}

	// SIGTERM shuts down cleanly.
	c.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve exit after SIGTERM: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop on SIGTERM")
	}

	// A second run reuses everything: the host key never changes.
	serveProc(t, e)
	again, _ := os.ReadFile(filepath.Join(e.data, "ssh_host_ed25519_key"))
	if !bytes.Equal(hostKey, again) {
		t.Fatal("host key changed on the second run")
	}
	if n := strings.Count(e.ok("user", "list"), "\n"); n != 2 {
		t.Fatalf("second run created users: %q", e.ok("user", "list"))
	}
}

func TestWorkspaceCommands(t *testing.T) {
	e := newEnv(t)
	e.ok("user", "add", "alice")
	e.ok("user", "add", "bob")
	if out := e.ok("workspace", "create", "demo", "--owner", "alice"); !strings.Contains(out, "created workspace demo for alice") {
		t.Fatalf("create: %q", out)
	}
	path := filepath.Join(e.data, "workspaces", "alice", "demo")
	if fi, err := os.Stat(filepath.Join(path, ".git")); err != nil || !fi.IsDir() {
		t.Fatalf("empty workspace is not a git repository: %v", err)
	}
	e.ok("workspace", "create", "demo", "--owner", "bob")
	e.fails("already exists", "workspace", "create", "demo", "--owner", "alice")
	for _, bad := range []string{"..", ".hidden", "a/b", "a b", "café", strings.Repeat("x", 65)} {
		e.fails("invalid workspace name", "workspace", "create", bad, "--owner", "alice")
	}
	e.fails("--owner USER is required", "workspace", "create", "x")
	e.fails(`unknown user "zed"`, "workspace", "create", "x", "--owner", "zed")
	e.fails("invalid repository URL", "workspace", "create", "x", "--owner", "alice", "--repo", "file:///etc")
	if _, err := os.Stat(filepath.Join(e.data, "workspaces", "alice", "x")); err == nil {
		t.Fatal("a refused workspace left a directory")
	}

	all := e.ok("workspace", "list")
	if !regexp.MustCompile(`(?m)^demo\s+alice\s+main`).MatchString(all) || !regexp.MustCompile(`(?m)^demo\s+bob`).MatchString(all) {
		t.Fatalf("list: %q", all)
	}
	if mine := e.ok("workspace", "list", "--owner", "bob"); strings.Contains(mine, "alice") {
		t.Fatalf("list --owner bob shows alice's: %q", mine)
	}

	cfg := e.ok("config-ssh", "alice", "--host", "code.example.com")
	for _, want := range []string{"Host demo\n", "HostName code.example.com\n", "Port 2222\n", "User alice+demo\n", "HostKeyAlias "} {
		if !strings.Contains(cfg, want) {
			t.Fatalf("config-ssh lacks %q:\n%s", want, cfg)
		}
	}

	e.fails(`has no workspace "nope"`, "workspace", "rm", "nope", "--owner", "alice")
	e.ok("workspace", "rm", "demo", "--owner", "alice")
	if _, err := os.Stat(path); err == nil {
		t.Fatal("workspace directory still there after rm")
	}
	if strings.Contains(e.ok("workspace", "list", "--owner", "alice"), "demo") {
		t.Fatal("workspace still listed after rm")
	}
}

// TestWorkspaceRmEndsRunningShells: `codeterm workspace rm` runs in its own
// process; the server notices and ends the workspace's shells, so an
// attached client gets the end of the session.
func TestWorkspaceRmEndsRunningShells(t *testing.T) {
	e := newEnv(t)
	signer, _, err := auth.LoadOrCreateHostKey(filepath.Join(t.TempDir(), "alice"))
	if err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(e.home, "alice.pub")
	os.WriteFile(pub, ssh.MarshalAuthorizedKey(signer.PublicKey()), 0o644)
	e.ok("user", "add", "alice", "--key", pub)
	e.ok("workspace", "create", "demo", "--owner", "alice")
	_, _, _, out := serveProc(t, e)
	m := regexp.MustCompile(`ssh -p (\d+) `).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no ssh port in %q", out)
	}
	client, err := ssh.Dial("tcp", "127.0.0.1:"+m[1], &ssh.ClientConfig{
		User: "alice", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("xterm", 24, 80, ssh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	in, _ := sess.StdinPipe()
	r, w := io.Pipe()
	sess.Stdout = w
	if err := sess.Start("demo"); err != nil {
		t.Fatal(err)
	}
	io.WriteString(in, "echo READY-$((20+22))\r")
	found := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "READY-42") {
				close(found)
				break
			}
		}
		io.Copy(io.Discard, r)
	}()
	select {
	case <-found:
	case <-time.After(30 * time.Second):
		t.Fatal("the shell did not start")
	}

	e.ok("workspace", "rm", "demo", "--owner", "alice")
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	select {
	case err := <-done:
		var exit *ssh.ExitError
		if !errors.As(err, &exit) {
			t.Fatalf("session ended with %v, want the shell's exit status", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the shell kept running after workspace rm")
	}
	w.Close()
}
