package files

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/codeterm/codeterm/store"
	"github.com/codeterm/codeterm/workspaces"
)

// oneWorkspace is a Workspaces holding a single workspace of user "u1".
type oneWorkspace struct{ dir string }

func (o oneWorkspace) Get(_ context.Context, userID, id string) (*store.Workspace, error) {
	if userID != "u1" || id != "w1" {
		return nil, fmt.Errorf("get %s: %w", id, workspaces.ErrNotFound)
	}
	return &store.Workspace{ID: id, UserID: userID, LocalPath: o.dir}, nil
}

var alice = &store.User{ID: "u1", Name: "alice"}

// setup returns a service, an open tree on a fresh workspace, the
// workspace directory and a directory beside it, outside the workspace,
// holding a secret file.
func setup(t *testing.T, cfg Config) (*Service, *Tree, string, string) {
	t.Helper()
	base := t.TempDir()
	ws := filepath.Join(base, "ws")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{ws, outside, filepath.Join(ws, ".git"), filepath.Join(ws, "src")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(outside, "secret"), "TOP SECRET")
	write(t, filepath.Join(ws, ".git", "config"), "[core]")
	write(t, filepath.Join(ws, "src", "main.go"), "package main\n")
	cfg.Workspaces = oneWorkspace{ws}
	s := New(cfg)
	t.Cleanup(func() { s.Close() })
	tr, err := s.Open(context.Background(), alice, "w1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return s, tr, ws, outside
}

func write(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestCleanPath(t *testing.T) {
	ok := map[string]string{"": ".", ".": ".", "./": ".", "a": "a", "a/b": "a/b", "a//b/": "a/b", "./a/./b": "a/b",
		".gitignore": ".gitignore", "x/.git/y": "x/.git/y", "..a": "..a", "a..": "a.."}
	for in, want := range ok {
		if got, err := CleanPath(in); err != nil || got != want {
			t.Errorf("CleanPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	bad := []string{"/etc/passwd", "..", "../x", "a/../../x", "a/..", "a/../b", "a\x00b", `a\..\b`, ".git", ".git/config",
		"./.git/hooks/pre-commit", string(make([]byte, 5000))}
	for _, in := range bad {
		if got, err := CleanPath(in); !errors.Is(err, ErrInvalidPath) {
			t.Errorf("CleanPath(%q) = %q, %v; want ErrInvalidPath", in, got, err)
		}
	}
}

// TestEscapes tries every way out of the workspace we could think of,
// through every operation.
func TestEscapes(t *testing.T) {
	_, tr, ws, outside := setup(t, Config{})
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink(filepath.Join(outside, "secret"), filepath.Join(ws, "abs-link")))
	must(os.Symlink("../outside/secret", filepath.Join(ws, "rel-link")))
	must(os.Symlink("../outside", filepath.Join(ws, "dir-link")))
	must(os.Symlink("src/../../outside/secret", filepath.Join(ws, "sneaky-link")))
	must(os.Symlink("/", filepath.Join(ws, "slash")))
	must(os.Symlink("loop2", filepath.Join(ws, "loop1")))
	must(os.Symlink("loop1", filepath.Join(ws, "loop2")))
	must(os.Symlink("main.go", filepath.Join(ws, "src", "inside-link")))
	must(syscall.Mkfifo(filepath.Join(ws, "fifo"), 0o644))

	paths := []string{"/etc/passwd", "../outside/secret", "src/../../outside/secret", "abs-link", "rel-link",
		"dir-link/secret", "sneaky-link", "slash/etc/passwd", "loop1", ".git/config", "fifo", "dir-link", "."}
	for _, p := range paths {
		if r, err := tr.Read(p, 0, 0); err == nil || bytes.Contains(r.Data, []byte("SECRET")) {
			t.Errorf("Read(%q) = %q, %v; want refused", p, r.Data, err)
		}
		if f, _, err := tr.OpenRegular(p); err == nil {
			f.Close()
			t.Errorf("OpenRegular(%q) succeeded", p)
		}
		if _, err := tr.Write(p, []byte("pwned"), WriteOptions{Create: true}); err == nil {
			t.Errorf("Write(%q) succeeded", p)
		}
		if _, err := tr.List(p, 1, 0, ""); err == nil && p != "." {
			t.Errorf("List(%q) succeeded", p)
		}
	}
	for _, p := range []string{"../outside/new", "dir-link/new", "slash/tmp/x", ".git/new", "/tmp/x"} {
		if err := tr.Mkdir(p, true); err == nil {
			t.Errorf("Mkdir(%q) succeeded", p)
		}
		if err := tr.Rename("src/main.go", p); err == nil {
			t.Errorf("Rename to %q succeeded", p)
		}
	}
	for _, p := range []string{"../outside/secret", "dir-link/secret", ".git", ".", "/"} {
		if err := tr.Delete(p, true); err == nil {
			t.Errorf("Delete(%q) succeeded", p)
		}
	}
	// Deleting a link removes the link only.
	must(tr.Delete("dir-link", false))
	if b, err := os.ReadFile(filepath.Join(outside, "secret")); err != nil || string(b) != "TOP SECRET" {
		t.Fatalf("outside file damaged: %q, %v", b, err)
	}
	// A link inside the workspace is followed.
	if r, err := tr.Read("src/inside-link", 0, 0); err != nil || string(r.Data) != "package main\n" {
		t.Errorf("Read(inside-link) = %q, %v", r.Data, err)
	}
	// Refusals carry the codes the browser sees.
	if _, err := tr.Read("../x", 0, 0); Code(err) != "INVALID_PATH" {
		t.Errorf("Read(../x) code %q", Code(err))
	}
	if _, err := tr.Read("abs-link", 0, 0); Code(err) != "INVALID_PATH" {
		t.Errorf("Read(abs-link) code %q (%v)", Code(err), err)
	}
	if _, err := tr.Read("fifo", 0, 0); Code(err) != "NOT_A_FILE" {
		t.Errorf("Read(fifo) code %q (%v)", Code(err), err)
	}
	if _, err := tr.Read("missing", 0, 0); Code(err) != "FILE_NOT_FOUND" {
		t.Errorf("Read(missing) code %q", Code(err))
	}
	if _, err := os.Stat(filepath.Join(outside, "new")); err == nil {
		t.Error("a directory was created outside the workspace")
	}
}

// TestDeviceRefused opens a character device that a root-owned workspace
// could hold; /dev/null is linked in with an absolute symlink, which is
// refused, and with a bind-free path the device itself cannot be made
// without CAP_MKNOD, so this checks the descriptor test by opening a
// workspace whose root is /dev.
func TestDeviceRefused(t *testing.T) {
	tr := &Tree{maxRead: 1 << 20, maxWrite: 1 << 20}
	r, err := os.OpenRoot("/dev")
	if err != nil {
		t.Skip(err)
	}
	tr.root = r
	defer tr.Close()
	for _, p := range []string{"null", "zero", "urandom"} {
		if _, err := tr.Read(p, 0, 0); Code(err) != "NOT_A_FILE" {
			t.Errorf("Read(/dev/%s) = %v; want NOT_A_FILE", p, err)
		}
	}
}

// TestSymlinkSwapRace swaps a directory for a symlink pointing outside
// while reads and writes run through it: none may ever reach the outside
// file, whichever instant the swap happens at.
func TestSymlinkSwapRace(t *testing.T) {
	_, tr, ws, outside := setup(t, Config{})
	dir := filepath.Join(ws, "d")
	link := filepath.Join(ws, "d.link")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "secret"), "harmless")
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	t.Cleanup(func() { stop.Store(true); wg.Wait() })
	go func() {
		defer wg.Done()
		// Swap d between the real directory and a link to outside.
		aside := filepath.Join(ws, "d.aside")
		for !stop.Load() {
			os.Rename(dir, aside)
			os.Rename(link, dir)
			os.Rename(dir, link)
			os.Rename(aside, dir)
		}
	}()
	deadline := time.Now().Add(500 * time.Millisecond)
	var reads, writes int
	for time.Now().Before(deadline) {
		if r, err := tr.Read("d/secret", 0, 0); err == nil {
			reads++
			if string(r.Data) != "harmless" {
				t.Fatalf("read through a swapped symlink: %q", r.Data)
			}
		}
		if _, err := tr.Write("d/secret", []byte("harmless"), WriteOptions{}); err == nil {
			writes++
		}
		if l, err := tr.List("d", 1, 0, ""); err == nil {
			for _, e := range l.Entries {
				if e.Name != "secret" && !strings.HasSuffix(e.Name, ".codeterm-tmp") {
					t.Fatalf("listed %q through a swapped symlink", e.Name)
				}
			}
		}
	}
	stop.Store(true)
	wg.Wait()
	if b, _ := os.ReadFile(filepath.Join(outside, "secret")); string(b) != "TOP SECRET" {
		t.Fatalf("outside file overwritten: %q", b)
	}
	entries, _ := os.ReadDir(outside)
	if len(entries) != 1 {
		t.Fatalf("files created outside: %v", entries)
	}
	t.Logf("%d reads and %d writes got through while swapping", reads, writes)
}

func TestList(t *testing.T) {
	_, tr, ws, _ := setup(t, Config{})
	write(t, filepath.Join(ws, ".env"), "X=1")
	for i := range 5 {
		write(t, filepath.Join(ws, fmt.Sprintf("f%d", i)), "x")
	}
	l, err := tr.List(".", 1, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range l.Entries {
		names = append(names, e.Path+":"+e.Type)
	}
	want := "[.env:file f0:file f1:file f2:file f3:file f4:file src:dir]"
	if fmt.Sprint(names) != want {
		t.Fatalf("List = %v, want %v (.git left out, hidden files in)", names, want)
	}
	// Pages of 3 join up to the whole listing.
	var paged []string
	cursor := ""
	for {
		l, err := tr.List(".", 1, 3, cursor)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range l.Entries {
			paged = append(paged, e.Path+":"+e.Type)
		}
		if l.Cursor == "" {
			break
		}
		cursor = l.Cursor
	}
	if fmt.Sprint(paged) != want {
		t.Fatalf("paged = %v", paged)
	}
	l, _ = tr.List(".", 2, 0, "")
	if n := len(l.Entries); n != 8 || l.Entries[7].Path != "src/main.go" {
		t.Fatalf("depth 2: %+v", l.Entries)
	}
}

func TestWriteConflict(t *testing.T) {
	_, tr, ws, _ := setup(t, Config{})
	p := filepath.Join(ws, "src", "main.go")
	if err := os.Chmod(p, 0o751); err != nil {
		t.Fatal(err)
	}
	r, err := tr.Read("src/main.go", 0, 0)
	if err != nil || r.Sha256 != sum([]byte("package main\n")) {
		t.Fatalf("Read = %+v, %v", r, err)
	}
	// Someone appends behind our back.
	f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("// shell\n")
	f.Close()
	_, err = tr.Write("src/main.go", []byte("mine"), WriteOptions{BaseSha256: r.Sha256})
	if !errors.Is(err, ErrConflict) || Code(err) != "FILE_CONFLICT" {
		t.Fatalf("Write over a changed file = %v; want FILE_CONFLICT", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "package main\n// shell\n" {
		t.Fatalf("the conflicting write changed the file: %q", b)
	}
	// With the new base it goes through, keeping the mode.
	r, _ = tr.Read("src/main.go", 0, 0)
	w, err := tr.Write("src/main.go", []byte("mine"), WriteOptions{BaseSha256: r.Sha256})
	if err != nil || w.Sha256 != sum([]byte("mine")) {
		t.Fatalf("Write = %+v, %v", w, err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o751 {
		t.Fatalf("mode %v, want 0751 kept", fi.Mode().Perm())
	}
	// Deleted since read: a conflict too.
	os.Remove(p)
	if _, err := tr.Write("src/main.go", []byte("x"), WriteOptions{BaseSha256: w.Sha256}); !errors.Is(err, ErrConflict) {
		t.Fatalf("Write over a deleted file = %v", err)
	}
	// Create refuses to clobber; without Create a missing file is an error.
	if _, err := tr.Write("src/new.go", []byte("x"), WriteOptions{}); Code(err) != "FILE_NOT_FOUND" {
		t.Fatalf("Write(missing) = %v", err)
	}
	if _, err := tr.Write("src/new.go", []byte("x"), WriteOptions{Create: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Write("src/new.go", []byte("y"), WriteOptions{Create: true}); Code(err) != "FILE_EXISTS" {
		t.Fatalf("Create over an existing file = %v", err)
	}
}

// TestWriteAtomic reads the file continuously while it is rewritten: a
// reader sees the old or the new content, never a mix or an empty file,
// and no temporary file is left behind.
func TestWriteAtomic(t *testing.T) {
	_, tr, ws, _ := setup(t, Config{})
	a := bytes.Repeat([]byte("a"), 1<<20)
	b := bytes.Repeat([]byte("b"), 1<<20)
	p := filepath.Join(ws, "big")
	if err := os.WriteFile(p, a, 0o640); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	var bad atomic.Value
	go func() {
		defer wg.Done()
		for !stop.Load() {
			got, err := os.ReadFile(p)
			if err != nil {
				bad.Store(err.Error())
				return
			}
			if !bytes.Equal(got, a) && !bytes.Equal(got, b) {
				bad.Store(fmt.Sprintf("torn read of %d bytes", len(got)))
				return
			}
		}
	}()
	for i := range 20 {
		content := a
		if i%2 == 0 {
			content = b
		}
		if _, err := tr.Write("big", content, WriteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if v := bad.Load(); v != nil {
		t.Fatal(v)
	}
	entries, _ := os.ReadDir(ws)
	for _, e := range entries {
		if e.Name() != "big" && e.Name() != "src" && e.Name() != ".git" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}
}

func TestMkdirRenameDelete(t *testing.T) {
	_, tr, ws, _ := setup(t, Config{})
	if err := tr.Mkdir("a/b/c", false); Code(err) != "FILE_NOT_FOUND" {
		t.Fatalf("Mkdir without parents = %v", err)
	}
	if err := tr.Mkdir("a/b/c", true); err != nil {
		t.Fatal(err)
	}
	if err := tr.Mkdir("a", false); Code(err) != "FILE_EXISTS" {
		t.Fatalf("Mkdir existing = %v", err)
	}
	if err := tr.Rename("src/main.go", "a/b/main.go"); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(ws, "other"), "o")
	if err := tr.Rename("other", "a/b/main.go"); Code(err) != "FILE_EXISTS" {
		t.Fatalf("Rename over a file = %v", err)
	}
	if err := tr.Delete("a", false); Code(err) != "DIRECTORY_NOT_EMPTY" {
		t.Fatalf("Delete non-empty = %v", err)
	}
	if err := tr.Delete("a", true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(ws, "a")); !os.IsNotExist(err) {
		t.Fatal("a still there")
	}
}

func TestReadLimits(t *testing.T) {
	_, tr, ws, _ := setup(t, Config{MaxReadBytes: 10})
	write(t, filepath.Join(ws, "eleven"), "01234567890")
	if _, err := tr.Read("eleven", 0, 0); Code(err) != "FILE_TOO_LARGE" {
		t.Fatalf("Read over the limit = %v", err)
	}
	r, err := tr.Read("eleven", 8, 5)
	if err != nil || string(r.Data) != "890" || r.Size != 11 || r.Sha256 != "" {
		t.Fatalf("partial read = %+v, %v", r, err)
	}
}

func TestOtherUsersWorkspace(t *testing.T) {
	s, _, _, _ := setup(t, Config{})
	bob := &store.User{ID: "u2", Name: "bob"}
	_, errOther := s.Open(context.Background(), bob, "w1")
	_, errMissing := s.Open(context.Background(), alice, "nope")
	if Code(errOther) != "WORKSPACE_NOT_FOUND" || Code(errMissing) != "WORKSPACE_NOT_FOUND" {
		t.Fatalf("codes %q, %q", Code(errOther), Code(errMissing))
	}
}
