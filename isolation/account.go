package isolation

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"runtime"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// Account is the OS account a codeterm user's processes run as. A nil
// *Account runs them as the server's own user.
type Account struct {
	Name     string // OS user name
	UID, GID uint32
	Groups   []uint32 // supplementary groups
	Home     string

	cg *cgroup // the user's cgroups; nil: no limits
}

// LookupAccount reads an OS account from the user database.
func LookupAccount(name string) (*Account, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("os account %q: %w", name, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("os account %q: uid %q gid %q are not numbers", name, u.Uid, u.Gid)
	}
	a := &Account{Name: name, UID: uint32(uid), GID: uint32(gid), Home: u.HomeDir}
	ids, err := u.GroupIds()
	if err != nil {
		return nil, fmt.Errorf("os account %q: groups: %w", name, err)
	}
	for _, id := range ids {
		if g, err := strconv.ParseUint(id, 10, 32); err == nil && uint32(g) != a.GID {
			a.Groups = append(a.Groups, uint32(g))
		}
	}
	return a, nil
}

// Credential is the account's uid, gid and groups for SysProcAttr; nil for
// a nil Account.
func (a *Account) Credential() *syscall.Credential {
	if a == nil {
		return nil
	}
	return &syscall.Credential{Uid: a.UID, Gid: a.GID, Groups: append([]uint32{}, a.Groups...)}
}

// Apply makes cmd start as the account, in a session of its own. The
// privilege is dropped by the kernel between fork and exec of the child;
// the server process itself never changes credentials. It keeps what the
// caller set in cmd.SysProcAttr otherwise. A nil Account changes nothing.
func (a *Account) Apply(cmd *exec.Cmd) {
	if a == nil {
		return
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Credential = a.Credential()
	if !cmd.SysProcAttr.Setctty {
		cmd.SysProcAttr.Setsid = true
		cmd.SysProcAttr.Setpgid = false // a new session is a new group too
	}
	if fd, ok := a.cg.v2FD(); ok {
		cmd.SysProcAttr.UseCgroupFD = true
		cmd.SysProcAttr.CgroupFD = fd
	}
}

// Start starts cmd (set up with Apply) inside the account's cgroups, so
// that not even its first fork escapes the limits. With cgroup v2 the
// kernel places it at clone time (Apply); with v1 the calling thread joins
// the cgroups for the fork and leaves them again: a child starts in its
// parent thread's cgroups. A nil Account is cmd.Start.
func (a *Account) Start(cmd *exec.Cmd) error {
	if a == nil || a.cg == nil || a.cg.v2 != nil {
		return cmd.Start()
	}
	// Locked, the goroutine keeps this thread, and the runtime creates
	// other threads from its template thread, never from this one.
	runtime.LockOSThread()
	tid := unix.Gettid()
	if err := a.cg.enter(tid); err != nil {
		a.cg.leave(tid)
		runtime.UnlockOSThread()
		return fmt.Errorf("start %s in %s's cgroup: %w", cmd.Path, a.Name, err)
	}
	err := cmd.Start()
	if a.cg.leave(tid) == nil {
		runtime.UnlockOSThread()
	} // else the thread stays locked and ends with this goroutine
	return err
}

// Owns reports whether uid is the account's (or, for a nil Account, the
// server's own uid).
func (a *Account) Owns(uid int) bool {
	if a == nil {
		return uid == os.Getuid()
	}
	return uint32(uid) == a.UID
}

// Chown gives path to the account (without following a symlink). A nil
// Account changes nothing.
func (a *Account) Chown(path string) error {
	if a == nil {
		return nil
	}
	if err := os.Lchown(path, int(a.UID), int(a.GID)); err != nil {
		return fmt.Errorf("chown %s to %s: %w", path, a.Name, err)
	}
	return nil
}

// MkdirPrivate creates dir (and missing parents, owned by the server) as a
// directory of the account with mode 0700, and corrects an existing one.
func (a *Account) MkdirPrivate(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("chmod %s: %w", dir, err)
	}
	return a.Chown(dir)
}
