package workspaces

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

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
func LinkInHome(home string, ws *store.Workspace) error {
	if home == "" {
		return nil
	}
	dir := filepath.Join(home, HomeLinkDir)
	link := filepath.Join(dir, ws.Name)
	cur, err := os.Readlink(link)
	switch {
	case err == nil && cur == ws.LocalPath:
		return nil
	case err == nil:
		if _, err := os.Stat(link); err == nil {
			return fmt.Errorf("workspace link %s points to %s: %w", link, cur, fs.ErrExist)
		}
	case errors.Is(err, fs.ErrNotExist):
	default: // not a link, or unreadable
		return fmt.Errorf("workspace link %s: %w", link, fs.ErrExist)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("workspace link %s: %w", link, err)
	}
	// A new link renamed over the old one: readers never see it missing.
	tmp := filepath.Join(dir, "."+ws.Name+".tmp-"+ws.ID)
	os.Remove(tmp)
	if err := os.Symlink(ws.LocalPath, tmp); err != nil {
		return fmt.Errorf("workspace link %s: %w", link, err)
	}
	if err := os.Rename(tmp, link); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("workspace link %s: %w", link, err)
	}
	return nil
}
