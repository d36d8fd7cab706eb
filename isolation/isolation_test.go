package isolation

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestMain(m *testing.M) {
	// The child of TestHardenHidesEnviron: harden, say so, wait.
	if os.Getenv("ISOLATION_TEST_HARDEN") != "" {
		if os.Getenv("ISOLATION_TEST_HARDEN") == "on" {
			if err := Harden(); err != nil {
				panic(err)
			}
		}
		os.Stdout.WriteString("ready\n")
		bufio.NewReader(os.Stdin).ReadString('\n')
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestResolve(t *testing.T) {
	auto, err := Resolve(ModeAuto)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[bool]Mode{true: ModeAccounts, false: ModeSingle}[Privileged()]; auto != want {
		t.Errorf("auto = %s, want %s (privileged %v)", auto, want, Privileged())
	}
	for _, m := range []Mode{ModeSingle, ModeShared} {
		if got, err := Resolve(m); err != nil || got != m {
			t.Errorf("%s: %s %v", m, got, err)
		}
	}
	if _, err := Resolve("everyone"); err == nil {
		t.Error("an unknown mode was accepted")
	}
}

func TestAccountName(t *testing.T) {
	if got := accountName("alice", 1); got != "ct-alice" {
		t.Errorf("got %q", got)
	}
	if got := accountName("alice", 3); got != "ct-alice-3" {
		t.Errorf("got %q", got)
	}
	long := strings.Repeat("x", 32)
	if got := accountName(long, 12); len(got) != 32 || !strings.HasSuffix(got, "-12") {
		t.Errorf("got %q (%d)", got, len(got))
	}
}

func TestNilAccountChangesNothing(t *testing.T) {
	var a *Account
	cmd := exec.Command("true")
	a.Apply(cmd)
	if cmd.SysProcAttr != nil {
		t.Error("a nil account set credentials")
	}
	if err := a.Start(cmd); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if !a.Owns(os.Getuid()) || a.Owns(os.Getuid()+1) {
		t.Error("a nil account is the server's own")
	}
}

// nobody is an account to hand files to; the tests that need it run as root.
func nobody(t *testing.T) *Account {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to change owners") // CI runs as root
	}
	return &Account{Name: "nobody", UID: 65534, GID: 65534}
}

func owner(t *testing.T, p string) uint32 {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Uid
}

// TestReclaimTreeStaysInside: a symlink the account planted in its tree
// does not lead the server to give away a file outside it.
func TestReclaimTreeStaysInside(t *testing.T) {
	a := nobody(t)
	dir := t.TempDir()
	outside := filepath.Join(t.TempDir(), "shadow")
	os.WriteFile(outside, []byte("x"), 0o600)
	tree := filepath.Join(dir, "ws")
	os.MkdirAll(filepath.Join(tree, "sub"), 0o755)
	os.WriteFile(filepath.Join(tree, "sub", "f"), []byte("x"), 0o644)
	os.Symlink(outside, filepath.Join(tree, "link"))
	os.Symlink(filepath.Dir(outside), filepath.Join(tree, "dirlink"))
	if err := a.ReclaimTree(tree); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{tree, filepath.Join(tree, "sub", "f"), filepath.Join(tree, "link")} {
		if owner(t, p) != a.UID {
			t.Errorf("%s not given to the account", p)
		}
	}
	if owner(t, outside) != uint32(os.Getuid()) || owner(t, filepath.Dir(outside)) != uint32(os.Getuid()) {
		t.Error("ReclaimTree followed a symlink out of the tree")
	}
}

func TestGiveTree(t *testing.T) {
	a := nobody(t)
	tree := filepath.Join(t.TempDir(), "ws")
	os.MkdirAll(filepath.Join(tree, "a", "b"), 0o700)
	os.WriteFile(filepath.Join(tree, "a", "b", "f"), nil, 0o600)
	if err := a.GiveTree(tree); err != nil {
		t.Fatal(err)
	}
	filepath.Walk(tree, func(p string, _ os.FileInfo, _ error) error {
		if owner(t, p) != a.UID {
			t.Errorf("%s not given", p)
		}
		return nil
	})
}

// TestHardenHidesEnviron: after Harden, another process of the same OS
// user cannot read the server's environment (where a GitHub secret set as
// CODETERM_GITHUB_CLIENT_SECRET was).
func TestHardenHidesEnviron(t *testing.T) {
	nobody(t)
	// A copy of this test binary that nobody may run.
	self, _ := os.Executable()
	bin, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "isolation-test-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	exe := filepath.Join(dir, "isolation.test")
	if err := os.WriteFile(exe, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"off", "on"} {
		child := exec.Command(exe)
		child.Env = []string{"ISOLATION_TEST_HARDEN=" + mode, "SECRET=hunter2"}
		child.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		in, _ := child.StdinPipe()
		out, _ := child.StdoutPipe()
		if err := child.Start(); err != nil {
			t.Fatal(err)
		}
		if l, _ := bufio.NewReader(out).ReadString('\n'); l != "ready\n" {
			t.Fatalf("child: %q", l)
		}
		peek := exec.Command("cat", "/proc/"+strconv.Itoa(child.Process.Pid)+"/environ")
		peek.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		got, err := peek.Output()
		in.Close()
		child.Wait()
		leaked := err == nil && strings.Contains(string(got), "hunter2")
		if mode == "on" && leaked {
			t.Error("a same-uid process read the hardened process's environment")
		}
		if mode == "off" && !leaked {
			t.Fatalf("the control could not read the environment either (%v): the test proves nothing", err)
		}
	}
}

// TestSocketForAccount: a socket given to an account is its own, 0600, and
// the server sees who connects.
func TestSocketForAccount(t *testing.T) {
	a := nobody(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o711)
	sock := filepath.Join(dir, "s.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := a.GiveSocket(sock); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Lstat(sock)
	if owner(t, sock) != a.UID || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket %v owned by %d", fi.Mode(), owner(t, sock))
	}
	accepted := make(chan *net.UnixConn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c.(*net.UnixConn)
		}
		close(accepted)
	}()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	server := <-accepted
	if server == nil {
		t.Fatal("not accepted")
	}
	defer server.Close()
	if uid, err := PeerUID(server); err != nil || uid != os.Getuid() || a.Owns(uid) {
		t.Errorf("peer uid %d %v", uid, err)
	}
}
