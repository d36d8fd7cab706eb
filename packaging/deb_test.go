package packaging

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/codeterm/codeterm/config"
)

// serverConfig is /etc/codeterm/config.yaml as make deb writes it.
func serverConfig(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("sed", "-f", "server-config.sed", "../config.example.yaml").Output()
	if err != nil {
		t.Fatalf("sed: %v", err)
	}
	return string(out)
}

// The server configuration loads, keeps every key of the example, and has
// a server's values: data in /var/lib/codeterm, nothing on all addresses.
func TestServerConfig(t *testing.T) {
	text := serverConfig(t)
	file := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(file, []byte(text), 0o644)
	c, err := config.Load(file, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "/var/lib/codeterm" || !c.SSH.UserHomes || c.PublicURL != "" {
		t.Fatalf("server config: data_dir %q user_homes %v public_url %q", c.DataDir, c.SSH.UserHomes, c.PublicURL)
	}
	for _, addr := range []string{c.HTTP.Addr, c.SSH.Addr} {
		if !strings.HasPrefix(addr, "127.0.0.1:") {
			t.Errorf("listens on %s by default", addr)
		}
	}
	if !strings.Contains(text, "FILL IN") {
		t.Error("public_url is not marked to fill in")
	}
	example, _ := os.ReadFile("../config.example.yaml")
	if strings.Count(text, "\n") < strings.Count(string(example), "\n") {
		t.Error("the server config lost lines of config.example.yaml")
	}
}

// TestDebianPackage builds the .deb with make deb, installs it with dpkg,
// checks files, modes and the conffile, runs the installed binary on the
// installed configuration and purges the package. It installs software
// system-wide, so it runs only when CODETERM_TEST_DEB=1: .ci/run runs it
// as root on its throw-away machine, alone after the other tests, since
// while it is installed /etc/codeterm/config.yaml is every codeterm's
// default configuration.
func TestDebianPackage(t *testing.T) {
	if os.Getenv("CODETERM_TEST_DEB") != "1" {
		t.Skip("installs a package system-wide: set CODETERM_TEST_DEB=1 (as root) to run it; .ci/run does")
	}
	if os.Geteuid() != 0 {
		t.Fatal("CODETERM_TEST_DEB=1 needs root (dpkg -i)")
	}
	if _, err := os.Stat("/var/lib/codeterm"); err == nil {
		t.Fatal("/var/lib/codeterm exists already: not a machine to test the package on")
	}
	if out, _ := exec.Command("dpkg-query", "-W", "-f=${Status}", "codeterm").Output(); strings.Contains(string(out), "installed") {
		t.Fatal("a codeterm package is installed already")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dist := t.TempDir()
	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir = ".."
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("make", "deb", "DIST="+dist)
	debs, _ := filepath.Glob(filepath.Join(dist, "codeterm_*.deb"))
	if len(debs) != 1 {
		t.Fatalf("make deb made %v", debs)
	}
	t.Cleanup(func() {
		exec.Command("dpkg", "--purge", "codeterm").Run()
		// The package keeps the data dir on purge, by design; the test's goes.
		os.RemoveAll("/var/lib/codeterm")
		os.RemoveAll("/etc/codeterm")
	})
	run("dpkg", "-i", debs[0])

	for path, mode := range map[string]os.FileMode{
		"/usr/bin/codeterm":                     0o755,
		"/etc/codeterm/config.yaml":             0o644,
		"/lib/systemd/system/codeterm.service":  0o644,
		"/var/lib/codeterm":                     0o700 | os.ModeDir,
		"/usr/share/doc/codeterm/OPERATIONS.md": 0o644,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		if fi.Mode()&(os.ModeDir|os.ModePerm) != mode {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode(), mode)
		}
	}
	if conf := run("dpkg-query", "--control-show", "codeterm", "conffiles"); !strings.Contains(conf, "/etc/codeterm/config.yaml") {
		t.Errorf("conffiles: %q", conf)
	}
	if got, _ := os.ReadFile("/etc/codeterm/config.yaml"); string(got) != serverConfig(t) {
		t.Error("/etc/codeterm/config.yaml is not the server configuration")
	}
	if unit, _ := os.ReadFile("/lib/systemd/system/codeterm.service"); !strings.Contains(string(unit), "ExecReload=/bin/kill -HUP $MAINPID") ||
		!strings.Contains(string(unit), "Restart=on-failure") {
		t.Errorf("unit: %s", unit)
	}
	if _, err := exec.LookPath("systemd-analyze"); err == nil {
		run("systemd-analyze", "verify", "/lib/systemd/system/codeterm.service")
	} else {
		t.Log("systemd-analyze not installed: the unit is not verified")
	}

	// The installed binary on the installed configuration (no --config:
	// it finds /etc/codeterm/config.yaml). Ports from the kernel, because
	// the machine may run other servers on 8080 and 2222.
	srv := exec.CommandContext(ctx, "/usr/bin/codeterm", "serve", "--http-addr", "127.0.0.1:0", "--ssh-addr", "127.0.0.1:0")
	srv.Env = append(os.Environ(), "HOME="+t.TempDir())
	stdout, _ := srv.StdoutPipe()
	srv.Stderr = io.Discard
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Process.Signal(os.Interrupt); srv.Wait() }()
	sc := bufio.NewScanner(stdout)
	var base, banner string
	for base == "" && sc.Scan() {
		banner += sc.Text() + "\n"
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "web:"); ok {
			base = strings.TrimSpace(v)
		}
	}
	go io.Copy(io.Discard, stdout)
	if !strings.Contains(banner, "data in /var/lib/codeterm") || !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("serve on the installed config printed:\n%s", banner)
	}
	res, err := http.Get(base + "/api/health")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("health: %d", res.StatusCode)
	}
	if fi, _ := os.Stat("/var/lib/codeterm/jwt.secret"); fi == nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("jwt.secret in the package's data dir: %v", fi)
	}
}
