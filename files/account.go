package files

import (
	"context"
	"io/fs"
	"os"
	"path"

	"github.com/codeterm/codeterm/isolation"
	"github.com/codeterm/codeterm/store"
)

// AccountOpener opens roots in the server's process, as OSOpener does, and
// gives what a Tree creates (files, directories, upload and temporary
// files) to the user's OS account, so that files made from the browser are
// the user's like those made in their shell. os.Root keeps every operation
// inside the workspace, whatever links its owner planted there.
type AccountOpener struct {
	// Account returns the user's OS account; nil: the server's own.
	Account func(ctx context.Context, u *store.User) (*isolation.Account, error)
}

// OpenRoot opens dir, owning new entries by the user's account.
func (o AccountOpener) OpenRoot(ctx context.Context, u *store.User, dir string) (Root, error) {
	acct, err := o.Account(ctx, u)
	if err != nil {
		return nil, err
	}
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	if acct == nil {
		return r, nil
	}
	return &ownedRoot{Root: r, uid: int(acct.UID), gid: int(acct.GID)}, nil
}

type ownedRoot struct {
	*os.Root
	uid, gid int
}

func (r *ownedRoot) OpenFile(name string, flag int, perm fs.FileMode) (*os.File, error) {
	f, err := r.Root.OpenFile(name, flag, perm)
	if err != nil || flag&os.O_CREATE == 0 {
		return f, err
	}
	if err := f.Chown(r.uid, r.gid); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func (r *ownedRoot) Mkdir(name string, perm fs.FileMode) error {
	if err := r.Root.Mkdir(name, perm); err != nil {
		return err
	}
	return r.Root.Lchown(name, r.uid, r.gid)
}

// MkdirAll gives every directory it made to the account: those that did
// not exist before.
func (r *ownedRoot) MkdirAll(name string, perm fs.FileMode) error {
	var missing []string
	for p := path.Clean(name); p != "." && p != "/"; p = path.Dir(p) {
		if _, err := r.Root.Lstat(p); err == nil {
			break
		}
		missing = append(missing, p)
	}
	if err := r.Root.MkdirAll(name, perm); err != nil {
		return err
	}
	for _, p := range missing {
		if err := r.Root.Lchown(p, r.uid, r.gid); err != nil {
			return err
		}
	}
	return nil
}
