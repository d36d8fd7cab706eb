// Package datadir holds what codeterm knows about its data directory as a
// whole: the lock a running server holds on it.
package datadir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// LockFile is the file a running server holds an flock on.
const LockFile = "serve.lock"

// ErrInUse means a server is running on the data directory.
var ErrInUse = errors.New("a codeterm server is running on this data directory")

// Lock is a held lock; the kernel drops it when the process ends.
type Lock struct{ f *os.File }

// Acquire takes the data directory's lock without waiting. The lock file's
// descriptor is close-on-exec, so a server that re-executes itself (SIGHUP)
// takes it again in its new image.
func Acquire(dir string) (*Lock, error) {
	f, err := os.OpenFile(filepath.Join(dir, LockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock data dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w", dir, ErrInUse)
		}
		return nil, fmt.Errorf("lock data dir %s: %w", dir, err)
	}
	return &Lock{f: f}, nil
}

// Release lets go of the lock.
func (l *Lock) Release() error { return l.f.Close() }
