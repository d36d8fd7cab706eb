package isolation

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// GiveTree hands a directory tree the server has just written, and that no
// one else can reach yet (dir is the server's and mode 0700), to the
// account. It changes the deepest entries first and dir last, so the account
// gets hold of no directory while entries below it are still being changed
// and cannot swap one for a symlink under the server's feet. A nil Account
// changes nothing.
func (a *Account) GiveTree(dir string) error {
	if a == nil {
		return nil
	}
	var paths []string
	err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		paths = append(paths, p)
		return nil
	})
	if err != nil {
		return fmt.Errorf("give %s to %s: %w", dir, a.Name, err)
	}
	for i := len(paths) - 1; i >= 0; i-- {
		if err := a.Chown(paths[i]); err != nil {
			return err
		}
	}
	return nil
}

// ReclaimTree gives the account every entry of its own directory tree dir
// that the server owns (what a git operation of the server left there). It
// resolves every path inside dir with os.Root, so a symlink the account
// planted cannot lead it outside.
func (a *Account) ReclaimTree(dir string) error {
	if a == nil {
		return nil
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("reclaim %s: %w", dir, err)
	}
	defer root.Close()
	self := os.Getuid()
	return fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // vanished meanwhile
		}
		fi, err := root.Lstat(p)
		if err != nil {
			return nil
		}
		if st := statUID(fi); st >= 0 && st != self {
			return nil
		}
		return root.Lchown(p, int(a.UID), int(a.GID))
	})
}
