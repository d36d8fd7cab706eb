package files

import (
	"context"
	"io/fs"
	"os"
	"syscall"
	"testing"

	"github.com/codeterm/codeterm/store"
)

// deniedRoot is what a Root opened with another user's credentials looks
// like to a user without access: the kernel says EACCES to everything.
type deniedRoot struct{}

func denied(op, name string) error { return &fs.PathError{Op: op, Path: name, Err: syscall.EACCES} }

func (deniedRoot) OpenFile(name string, _ int, _ fs.FileMode) (*os.File, error) {
	return nil, denied("open", name)
}
func (deniedRoot) Lstat(name string) (fs.FileInfo, error)    { return nil, denied("lstat", name) }
func (deniedRoot) Mkdir(name string, _ fs.FileMode) error    { return denied("mkdir", name) }
func (deniedRoot) MkdirAll(name string, _ fs.FileMode) error { return denied("mkdir", name) }
func (deniedRoot) Rename(a, _ string) error                  { return denied("rename", a) }
func (deniedRoot) Remove(name string) error                  { return denied("remove", name) }
func (deniedRoot) RemoveAll(name string) error               { return denied("remove", name) }
func (deniedRoot) Close() error                              { return nil }

type recordingOpener struct {
	users []string
	dirs  []string
}

func (o *recordingOpener) OpenRoot(_ context.Context, u *store.User, dir string) (Root, error) {
	o.users = append(o.users, u.Name)
	o.dirs = append(o.dirs, dir)
	return deniedRoot{}, nil
}

// TestOpenerRunsEveryOperation: every operation goes through the Root the
// Opener returns for the user (where per-user credentials plug in), and
// the kernel's refusal reaches the client as PERMISSION_DENIED.
func TestOpenerRunsEveryOperation(t *testing.T) {
	dir := t.TempDir()
	o := &recordingOpener{}
	s := New(Config{Workspaces: oneWorkspace{dir}, Opener: o})
	defer s.Close()
	ctx := context.Background()
	tr, err := s.Open(ctx, alice, "w1")
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	checks := map[string]error{}
	_, checks["list"] = tr.List(".", 1, 0, "")
	_, checks["read"] = tr.Read("a", 0, 0)
	_, checks["write"] = tr.Write("a", []byte("x"), WriteOptions{Create: true})
	checks["mkdir"] = tr.Mkdir("d", false)
	checks["rename"] = tr.Rename("a", "b")
	checks["delete"] = tr.Delete("a", true)
	_, checks["upload"] = s.StartUpload(ctx, alice, "w1", UploadOptions{Path: "u", Size: 1})
	_, checks["put"] = s.Put(ctx, alice, "w1", "p", nil, 0, WriteOptions{Create: true})
	for op, err := range checks {
		if Code(err) != "PERMISSION_DENIED" {
			t.Errorf("%s: %v, want PERMISSION_DENIED", op, err)
		}
	}
	if len(o.users) != 3 || o.users[0] != "alice" || o.dirs[0] != dir {
		t.Errorf("opener called for %v in %v", o.users, o.dirs)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("something bypassed the Root: %v", entries)
	}
}
