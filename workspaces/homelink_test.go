package workspaces

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/codeterm/codeterm/store"
)

func TestLinkInHome(t *testing.T) {
	home, root := t.TempDir(), t.TempDir()
	mk := func(owner, name string) *store.Workspace {
		p := filepath.Join(root, owner, name)
		os.MkdirAll(p, 0o755)
		return &store.Workspace{ID: owner + name, Name: name, LocalPath: p}
	}
	alice := mk("alice", "demo")
	link := filepath.Join(home, "ws", "demo")
	for i := 0; i < 2; i++ { // idempotent
		if err := LinkInHome(home, alice, nil); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := os.Readlink(link); got != alice.LocalPath {
		t.Fatalf("link %q", got)
	}
	// Another user's live workspace of the same name keeps the link.
	bob := mk("bob", "demo")
	if err := LinkInHome(home, bob, nil); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second owner: %v", err)
	}
	if got, _ := os.Readlink(link); got != alice.LocalPath {
		t.Fatalf("link turned to %q", got)
	}
	// A deleted workspace's link is replaced.
	os.RemoveAll(alice.LocalPath)
	if err := LinkInHome(home, bob, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.Readlink(link); got != bob.LocalPath {
		t.Fatalf("link %q after delete", got)
	}
	// A real directory is never touched.
	other := mk("carol", "real")
	os.MkdirAll(filepath.Join(home, "ws", "real"), 0o755)
	if err := LinkInHome(home, other, nil); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("over a directory: %v", err)
	}
}

// The server links as its own user inside a HOME the user writes to: a
// "ws" the user turned into a link elsewhere must not make it write there.
func TestLinkInHomePlantedLink(t *testing.T) {
	home, elsewhere, root := t.TempDir(), t.TempDir(), t.TempDir()
	if err := os.Symlink(elsewhere, filepath.Join(home, "ws")); err != nil {
		t.Fatal(err)
	}
	ws := &store.Workspace{ID: "x", Name: "demo", LocalPath: root}
	if err := LinkInHome(home, ws, nil); err == nil {
		t.Fatal("linked through a planted ws link")
	}
	if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
		t.Fatalf("wrote %d entries outside HOME: %v", len(entries), entries)
	}
}
