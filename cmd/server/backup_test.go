package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/codeterm/codeterm/auth"
)

// sshArgs are OpenSSH options for a test server whose host key is pinned
// under one alias, whatever port it listens on.
func sshArgs(port, key, knownHosts, strict string) []string {
	return []string{"-p", port, "-i", key, "-F", "/dev/null",
		"-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
		"-o", "UserKnownHostsFile=" + knownHosts, "-o", "HostKeyAlias=codeterm-backup-test",
		"-o", "StrictHostKeyChecking=" + strict, "-o", "ConnectTimeout=10"}
}

// A backup taken while a session runs, restored into a fresh data dir:
// the restored server has the same host key (ssh with the pinned key),
// users and keys (alice logs in), workspaces and JWT secret (her old token
// works).
func TestBackupRestore(t *testing.T) {
	requireSSH(t)
	e := newEnv(t)
	e.fails("holds no codeterm database", "backup", filepath.Join(t.TempDir(), "x.tar"))
	if _, err := os.Stat(e.data); err == nil {
		t.Fatal("backup of a missing data dir created one")
	}
	key := filepath.Join(t.TempDir(), "alice")
	signer, _, err := auth.LoadOrCreateHostKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(e.home, "alice.pub")
	os.WriteFile(pub, ssh.MarshalAuthorizedKey(signer.PublicKey()), 0o644)
	e.ok("user", "add", "alice", "--key", pub)
	e.ok("workspace", "create", "demo", "--owner", "alice")
	srv, _, _, out := serveProc(t, e)
	port := regexp.MustCompile(`ssh -p (\d+) `).FindStringSubmatch(out.String())[1]
	knownHosts := filepath.Join(t.TempDir(), "known_hosts")

	// A live shared session over real ssh.
	sh := exec.Command("ssh", append(sshArgs(port, key, knownHosts, "accept-new"), "-tt", "alice@127.0.0.1", "demo")...)
	stdin, _ := sh.StdinPipe()
	pr, pw := io.Pipe()
	sh.Stdout, sh.Stderr = pw, pw
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sh.Process.Kill(); sh.Wait() })
	io.WriteString(stdin, "echo READY-$((20+22))\r")
	waitFor(t, pr, "READY-42")
	go io.Copy(io.Discard, pr)
	token := strings.TrimSpace(e.ok("token", "alice"))

	file := filepath.Join(t.TempDir(), "codeterm.tar")
	e.ok("backup", file)
	fi, err := os.Stat(file)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v %v", err, fi)
	}
	names := tarNames(t, file)
	for _, want := range []string{"codeterm.db", "jwt.secret", "ssh_host_ed25519_key"} {
		if sort.SearchStrings(names, want) == len(names) || names[sort.SearchStrings(names, want)] != want {
			t.Errorf("backup lacks %s: %v", want, names)
		}
	}
	for _, n := range names {
		if strings.HasPrefix(n, "workspaces") || n == "serve.lock" || strings.HasSuffix(n, "-wal") {
			t.Errorf("backup holds %s", n)
		}
	}

	// Not over a running server's data dir.
	e.fails("a codeterm server is running on this data directory", "restore", file)

	srv.Process.Signal(syscall.SIGTERM)
	srv.Wait()

	fresh := &env{t: t, data: filepath.Join(t.TempDir(), "restored"), home: e.home, keyFile: e.keyFile}
	if out := fresh.ok("restore", file); !strings.Contains(out, "restored") {
		t.Fatalf("restore: %q", out)
	}
	if fi, _ := os.Stat(fresh.data); fi.Mode().Perm() != 0o700 {
		t.Fatalf("restored data dir mode %v", fi.Mode())
	}
	if !strings.Contains(fresh.ok("user", "list"), "alice") {
		t.Fatal("alice is not in the restored database")
	}
	_, base, _, out2 := serveProc(t, fresh)
	port2 := regexp.MustCompile(`ssh -p (\d+) `).FindStringSubmatch(out2.String())[1]
	// StrictHostKeyChecking=yes: the restored server must show the host key
	// the client pinned on the first server.
	got, err := exec.Command("ssh", append(sshArgs(port2, key, knownHosts, "yes"), "alice@127.0.0.1", "demo", "echo", "restored-$((6*7))")...).CombinedOutput()
	if err != nil || !strings.Contains(string(got), "restored-42") {
		t.Fatalf("ssh to the restored server: %v\n%s", err, got)
	}
	req, _ := http.NewRequest("GET", base+"/api/workspaces", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var list struct{ Workspaces []struct{ Name string } }
	json.NewDecoder(res.Body).Decode(&list)
	if res.StatusCode != 200 || len(list.Workspaces) != 1 || list.Workspaces[0].Name != "demo" {
		t.Fatalf("the old token on the restored server: %d %+v", res.StatusCode, list)
	}
}

func requireSSH(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("ssh"); err != nil {
		t.Fatal("the OpenSSH client is required: apt-get install openssh-client")
	}
}

func tarNames(t *testing.T, file string) []string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Mode&0o077 != 0 {
			t.Errorf("%s has mode %o in the archive", h.Name, h.Mode)
		}
		names = append(names, h.Name)
	}
	sort.Strings(names)
	return names
}

// waitFor reads r until s appears, or fails after a deadline.
func waitFor(t *testing.T, r io.Reader, s string) {
	t.Helper()
	found := make(chan struct{})
	go func() {
		var seen []byte
		buf := make([]byte, 4096)
		for {
			n, err := r.Read(buf)
			seen = append(seen, buf[:n]...)
			if bytes.Contains(seen, []byte(s)) {
				close(found)
				return
			}
			if err != nil {
				return
			}
		}
	}()
	select {
	case <-found:
	case <-time.After(30 * time.Second):
		t.Fatalf("no %q within 30s", s)
	}
}
