package files

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/codeterm/codeterm/store"
)

// Root is a directory tree that file names cannot leave: the subset of
// *os.Root that a Tree uses. Files come back as *os.File so that a Root
// opened with someone else's credentials hands out descriptors the server
// reads and writes like its own; the kernel checked access when they were
// opened.
type Root interface {
	OpenFile(name string, flag int, perm fs.FileMode) (*os.File, error)
	Lstat(name string) (fs.FileInfo, error)
	Mkdir(name string, perm fs.FileMode) error
	MkdirAll(name string, perm fs.FileMode) error
	Rename(oldname, newname string) error
	Remove(name string) error
	RemoveAll(name string) error
	Close() error
}

// Opener opens a user's workspace directory as a Root. Every file
// operation of a Tree goes through the Root it returns, so an Opener that
// runs with the user's OS credentials (a helper process, or a thread with
// the user's fsuid) makes the kernel enforce the user's access and gives
// new files the user's ownership.
type Opener interface {
	OpenRoot(ctx context.Context, user *store.User, dir string) (Root, error)
}

// OSOpener opens roots in the server's own process with its credentials:
// right when all users share the server's OS account.
type OSOpener struct{}

// OpenRoot opens dir with os.OpenRoot.
func (OSOpener) OpenRoot(_ context.Context, _ *store.User, dir string) (Root, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// maxPathLen bounds a client's path; Linux's PATH_MAX is 4096.
const maxPathLen = 4096

// CleanPath checks a client's path and returns it in the form Root methods
// take: slash-separated, relative, "." for the workspace itself. It refuses
// what must never reach the file system even if os.Root would catch it
// later: absolute paths, ".." anywhere, NUL bytes, backslashes (a Windows
// client's separator, which would otherwise name a file with a backslash)
// and anything inside the workspace's .git directory, which the tree hides
// and a stray write would corrupt.
func CleanPath(p string) (string, error) {
	if len(p) > maxPathLen {
		return "", fmt.Errorf("%w: longer than %d bytes", ErrInvalidPath, maxPathLen)
	}
	if strings.ContainsAny(p, "\x00\\") {
		return "", fmt.Errorf("%w: %q holds a NUL byte or a backslash", ErrInvalidPath, p)
	}
	if strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("%w: %q is absolute; paths are relative to the workspace", ErrInvalidPath, p)
	}
	var parts []string
	for _, c := range strings.Split(p, "/") {
		switch c {
		case "", ".":
			continue
		case "..":
			return "", fmt.Errorf("%w: %q has a .. component", ErrInvalidPath, p)
		}
		parts = append(parts, c)
	}
	if len(parts) == 0 {
		return ".", nil
	}
	if parts[0] == ".git" {
		return "", fmt.Errorf("%w: %q is inside .git", ErrInvalidPath, p)
	}
	return strings.Join(parts, "/"), nil
}
