package web

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// TestBrowserE2E drives the real UI in headless Chromium (web/e2e/*.test.mjs
// under node --test) against a real codeterm: the binary is built, started
// on 127.0.0.1 with a temporary data dir and HOME, and given a workspace and
// login links with the CLI. Node, Chromium and the ssh client are required,
// as in CI; a missing one fails the test rather than skipping it.
func TestBrowserE2E(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	s := startServer(ctx, t)
	s.cli("workspace", "create", "demo", "--owner", s.user)
	s.cli("workspace", "create", "forms", "--owner", s.user) // forms.test.mjs's
	// The tests make their login links with the same CLI: codeterm login-link.
	s.cli("login-link", s.user)

	files, _ := filepath.Glob(filepath.Join(s.webDir, "e2e", "*.test.mjs"))
	if len(files) == 0 {
		t.Fatal("no web/e2e/*.test.mjs files")
	}
	// One file at a time: each drives its own Chromium, and CPU is scarce.
	args := append([]string{"--test", "--test-concurrency=1", "--test-reporter=spec"}, files...)
	cmd := exec.CommandContext(ctx, s.node, args...)
	cmd.Dir = s.webDir
	cmd.Env = s.nodeEnv()
	out, err := cmd.CombinedOutput()
	t.Logf("node --test web/e2e:\n%s", out)
	if err != nil {
		t.Fatalf("browser tests failed: %v", err)
	}

	// BenchmarkPageOutputForms' script, once and small, so that it keeps
	// working between bench runs.
	s.cli("workspace", "create", "bench-string", "--owner", s.user)
	s.cli("workspace", "create", "bench-binary", "--owner", s.user)
	r := s.pageOutputForms(ctx, t, "text", 1, 256<<10)
	for _, form := range []string{"string", "binary"} {
		if r[form].Bytes < 256<<10 {
			t.Errorf("output-bench.mjs, %s form: %d bytes, want at least %d", form, r[form].Bytes, 256<<10)
		}
	}
}

// e2eServer is a codeterm binary built from this tree and serving on
// 127.0.0.1 with a temporary data dir and HOME, for the Node scripts that
// drive Chromium against it.
type e2eServer struct {
	tb                     testing.TB
	ctx                    context.Context
	node, chromium, webDir string
	bin, data, home, key   string
	baseURL, sshPort, user string
	env                    []string
	pid                    int
}

// startServer builds and starts codeterm; it is stopped when tb ends. Node,
// Chromium and the ssh client are required, as in CI; a missing one fails
// tb rather than skipping it.
func startServer(ctx context.Context, tb testing.TB) *e2eServer {
	s := &e2eServer{tb: tb, ctx: ctx}
	s.node = requireTool(tb, "node", "Node.js 20 or later (apt-get install nodejs npm, or nodejs.org)")
	s.chromium = os.Getenv("CHROMIUM")
	if s.chromium == "" {
		s.chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(s.chromium); err != nil {
		tb.Fatalf("Chromium is required for the browser tests: apt-get install chromium (or set CHROMIUM to its path): %v", err)
	}
	requireTool(tb, "ssh", "the OpenSSH client (apt-get install openssh-client)")
	s.webDir, _ = filepath.Abs(".")
	ensureNodeModules(tb, s.webDir)

	tmp := tb.TempDir()
	s.bin = filepath.Join(tmp, "codeterm")
	build := exec.CommandContext(ctx, "go", "build", "-o", s.bin, "./cmd/server")
	build.Dir = filepath.Dir(s.webDir)
	if out, err := build.CombinedOutput(); err != nil {
		tb.Fatalf("building codeterm: %v\n%s", err, out)
	}

	s.home = filepath.Join(tmp, "home")
	s.data = filepath.Join(tmp, "data")
	s.key = writeSSHKey(tb, s.home)
	// Every user as the OS user running the tests (accounts mode is
	// cmd/server's isolation tests' subject); shared, not single, because
	// the login tests sign in as a second user.
	s.env = append(os.Environ(), "HOME="+s.home, "XDG_DATA_HOME="+filepath.Join(s.home, ".local/share"), "XDG_CONFIG_HOME="+filepath.Join(s.home, ".config"),
		"CODETERM_SECURITY_ISOLATION=shared")

	srv := exec.CommandContext(ctx, s.bin, "serve", "--data", s.data, "--http-addr", "127.0.0.1:0", "--ssh-addr", "127.0.0.1:0")
	srv.Env = s.env
	srv.Stderr = testWriter{tb, "server: "}
	stdout, err := srv.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		tb.Fatal(err)
	}
	s.pid = srv.Process.Pid
	tb.Cleanup(func() {
		srv.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { srv.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			srv.Process.Kill()
		}
	})
	s.baseURL, s.sshPort, s.user = readBanner(tb, stdout)

	res, err := http.Get(s.baseURL + "/")
	if err != nil {
		tb.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		tb.Fatalf("GET / = %d %s: the web UI is not mounted (webbridge: mux.Handle(\"/\", s.staticHandler()))", res.StatusCode, res.Header.Get("Content-Type"))
	}
	return s
}

// cli runs a codeterm sub-command on the server's data dir.
func (s *e2eServer) cli(args ...string) string {
	s.tb.Helper()
	cmd := exec.CommandContext(s.ctx, s.bin, append(args, "--data", s.data)...)
	cmd.Env = s.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		s.tb.Fatalf("codeterm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// nodeEnv is what web/e2e's scripts read (helpers.mjs).
func (s *e2eServer) nodeEnv() []string {
	return append(s.env,
		"BASE_URL="+s.baseURL,
		"CODETERM_BIN="+s.bin,
		"CODETERM_DATA="+s.data,
		"CODETERM_HOME="+s.home,
		"CODETERM_USER="+s.user,
		"SSH_PORT="+s.sshPort,
		"SSH_KEY="+s.key,
		"CHROMIUM="+s.chromium,
	)
}

func requireTool(t testing.TB, name, how string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is required for the browser tests: install %s", name, how)
	}
	return p
}

// ensureNodeModules installs web/node_modules from the lockfile when absent.
func ensureNodeModules(t testing.TB, webDir string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(webDir, "node_modules", "playwright-core")); err == nil {
		if _, err := os.Stat(filepath.Join(webDir, "node_modules", "esbuild")); err == nil {
			return
		}
	}
	npm := requireTool(t, "npm", "npm (apt-get install npm)")
	cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = webDir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", webDir, err, out)
	}
}

// writeSSHKey makes an ed25519 key in home/.ssh, authorized for the owner
// account codeterm creates on first start.
func writeSSHKey(t testing.TB, home string) string {
	t.Helper()
	dir := filepath.Join(home, ".ssh")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "codeterm e2e")
	if err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), ssh.MarshalAuthorizedKey(sp), 0o600); err != nil {
		t.Fatal(err)
	}
	return keyPath
}

var (
	webLine = regexp.MustCompile(`^\s*web:\s+(http://\S+)`)
	sshLine = regexp.MustCompile(`^\s*ssh:\s+ssh -p (\d+) ([^@\s]+)@`)
)

// readBanner reads what `codeterm serve` prints on start.
func readBanner(t testing.TB, r interface{ Read([]byte) (int, error) }) (baseURL, sshPort, user string) {
	t.Helper()
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var seen []string
	deadline := time.After(30 * time.Second)
	for baseURL == "" || sshPort == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("codeterm serve exited; it printed:\n%s", strings.Join(seen, "\n"))
			}
			seen = append(seen, l)
			if m := webLine.FindStringSubmatch(l); m != nil {
				baseURL = m[1]
			}
			if m := sshLine.FindStringSubmatch(l); m != nil {
				sshPort, user = m[1], m[2]
			}
		case <-deadline:
			t.Fatalf("codeterm serve did not print its addresses in 30s:\n%s", strings.Join(seen, "\n"))
		}
	}
	go func() {
		for range lines {
		}
	}()
	if strings.HasSuffix(baseURL, ":0") {
		t.Fatalf("codeterm serve printed %s: it must print the port it listens on", baseURL)
	}
	return baseURL, sshPort, user
}

type testWriter struct {
	t      testing.TB
	prefix string
}

func (w testWriter) Write(p []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		w.t.Log(w.prefix + l)
	}
	return len(p), nil
}
