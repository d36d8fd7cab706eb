package workspaces

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/codeterm/codeterm/isolation"
	"github.com/codeterm/codeterm/store"
)

// HomeLinkDir is where a user's HOME reaches their workspaces: ~/ws/NAME is
// a symbolic link to the workspace, the short path that works wherever "~"
// means HOME (exec, git over SSH, scp, sftp, rsync, mosh).
const HomeLinkDir = "ws"

// LinkInHome makes home/ws/NAME a symbolic link to the workspace. A link
// left by a deleted workspace is replaced; anything else is left alone and
// reported (ErrExist): where users share a HOME, a link to another user's
// live workspace of the same name must not be turned under their shells.
//
// The server runs this in a HOME its user may write to, so every step goes
// through an os.Root on the HOME: a symbolic link planted as "ws" cannot
// make the server create or replace anything outside it. With an OS
// account, what it creates is given to the account.
func LinkInHome(home string, ws *store.Workspace, acct *isolation.Account) error {
	if home == "" {
		return nil
	}
	link := filepath.Join(HomeLinkDir, ws.Name)
	fail := func(err error) error {
		return fmt.Errorf("workspace link %s: %w", filepath.Join(home, link), err)
	}
	root, err := os.OpenRoot(home)
	if err != nil {
		return fail(err)
	}
	defer root.Close()
	cur, err := root.Readlink(link)
	switch {
	case err == nil && cur == ws.LocalPath:
		return nil
	case err == nil:
		// A link whose target still exists may be another user's live
		// workspace; one whose target is gone is stale and replaced.
		if _, err := os.Stat(cur); err == nil || !filepath.IsAbs(cur) {
			return fail(fmt.Errorf("points to %s: %w", cur, fs.ErrExist))
		}
	case errors.Is(err, fs.ErrNotExist):
	default: // not a link, unreadable, or "ws" leads out of HOME
		return fail(fmt.Errorf("%w (%v)", fs.ErrExist, err))
	}
	if err := root.Mkdir(HomeLinkDir, 0o700); err == nil {
		if err := chownAccount(root, HomeLinkDir, acct); err != nil {
			return fail(err)
		}
	} else if !errors.Is(err, fs.ErrExist) {
		return fail(err)
	}
	// A new link renamed over the old one: readers never see it missing.
	tmp := filepath.Join(HomeLinkDir, "."+ws.Name+".tmp-"+ws.ID)
	root.Remove(tmp)
	if err := root.Symlink(ws.LocalPath, tmp); err != nil {
		return fail(err)
	}
	if err := chownAccount(root, tmp, acct); err != nil {
		root.Remove(tmp)
		return fail(err)
	}
	if err := root.Rename(tmp, link); err != nil {
		root.Remove(tmp)
		return fail(err)
	}
	return nil
}

// chownAccount gives name (not what it links to) to acct; nothing for nil.
func chownAccount(root *os.Root, name string, acct *isolation.Account) error {
	if acct == nil {
		return nil
	}
	return root.Lchown(name, int(acct.UID), int(acct.GID))
}
