package sshd

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// unixListener is a forwarded socket bound through a descriptor of its
// directory; closing it removes the socket file.
type unixListener struct {
	net.Listener
	dirfd int
	base  string
	once  sync.Once
}

func (l *unixListener) Close() error {
	err := l.Listener.Close()
	l.once.Do(func() {
		unix.Unlinkat(l.dirfd, l.base, 0)
		unix.Close(l.dirfd)
	})
	return err
}

// listenUnixIn binds a unix socket at path if its directory is inside one
// of roots, and makes it mode 0600 with owner applied to it. The directory
// is opened once and both the check and the bind go through that
// descriptor, so swapping a directory for a symbolic link in between
// cannot move the socket elsewhere.
func listenUnixIn(path string, roots []string, owner func(fd int) error) (net.Listener, error) {
	dir, base := filepath.Split(path)
	if base == "" || base == "." || base == ".." {
		return nil, fmt.Errorf("socket path %q names no file", path)
	}
	dirfd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socket directory %s: %w", dir, err)
	}
	fdPath := "/proc/self/fd/" + strconv.Itoa(dirfd)
	real, err := os.Readlink(fdPath)
	if err != nil || !within(real, roots) {
		unix.Close(dirfd)
		return nil, fmt.Errorf("%s: %w", path, errOutsideRoots)
	}
	ln, err := net.Listen("unix", fdPath+"/"+base)
	if err != nil {
		unix.Close(dirfd)
		return nil, fmt.Errorf("listen %s: %w", path, err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	l := &unixListener{Listener: ln, dirfd: dirfd, base: base}
	if err := protectSocket(dirfd, base, owner); err != nil {
		l.Close()
		return nil, fmt.Errorf("socket %s: %w", path, err)
	}
	return l, nil
}

// protectSocket makes the socket just bound mode 0600 and applies owner.
// It works on a descriptor of the socket file opened without following
// links, so a link put in its place is never followed.
func protectSocket(dirfd int, base string, owner func(fd int) error) error {
	fd, err := unix.Openat(dirfd, base, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return fmt.Errorf("replaced while being bound")
	}
	if err := owner(fd); err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	// chmod has no no-follow form on Linux; the descriptor's /proc link
	// leads to this very inode.
	return unix.Chmod("/proc/self/fd/"+strconv.Itoa(fd), 0o600)
}

// chownFd is the one place a forwarded socket gets its owner's uid and gid.
func chownFd(fd, uid, gid int) error {
	return unix.Fchownat(fd, "", uid, gid, unix.AT_EMPTY_PATH)
}
