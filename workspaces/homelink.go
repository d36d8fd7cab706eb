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

// LinkInHome makes home/ws/NAME a symbolic link to the workspace, replacing
// a link that points elsewhere (a workspace deleted and created again, or,
// where users share a HOME, another user's workspace of the same name). It
// leaves anything that is not a symbolic link alone.
func LinkInHome(home string, ws *store.Workspace) error {
	if home == "" {
		return nil
	}
	dir := filepath.Join(home, HomeLinkDir)
	link := filepath.Join(dir, ws.Name)
	if cur, err := os.Readlink(link); err == nil && cur == ws.LocalPath {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("workspace link %s: %w", link, err)
	}
	fi, err := os.Lstat(link)
	switch {
	case err == nil && fi.Mode()&fs.ModeSymlink == 0:
		return fmt.Errorf("workspace link %s: %w", link, fs.ErrExist)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
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
