// Package isolation makes the kernel keep codeterm users apart: it maps each
// user to an OS account of their own (creating system accounts when needed),
// starts their processes with that account's credentials and places them in
// per-user cgroups, and hardens the server process itself.
//
// The zero values mean "no credential switching": a nil *Account or a nil
// *Accounts leaves a command running as the server's own OS user, which is
// what single and shared mode and the package-level tests want.
package isolation

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Mode is the setting security.isolation.
type Mode string

// The isolation modes.
const (
	// ModeAuto is ModeAccounts when the server may switch credentials, else ModeSingle.
	ModeAuto Mode = "auto"
	// ModeAccounts runs every user's processes as an OS account of their own.
	ModeAccounts Mode = "accounts"
	// ModeSingle serves one codeterm user, who runs as the server's OS user.
	ModeSingle Mode = "single"
	// ModeShared runs every user as the server's OS user: no isolation between
	// them. Only when chosen explicitly.
	ModeShared Mode = "shared"
)

// ErrSingleUser refuses a second user in single mode.
var ErrSingleUser = errors.New("security.isolation is single: this server serves one user; set security.isolation: accounts (run as root) to give each user an OS account of their own")

// Resolve turns the configured mode into the effective one: ModeAuto becomes
// ModeAccounts with the privilege to switch credentials and ModeSingle without;
// ModeAccounts without that privilege is an error that says why.
func Resolve(m Mode) (Mode, error) {
	switch m {
	case ModeAuto, "":
		if Privileged() {
			return ModeAccounts, nil
		}
		return ModeSingle, nil
	case ModeAccounts:
		if !Privileged() {
			return "", fmt.Errorf("security.isolation is accounts, but uid %d may not switch to other users' credentials: run the server as root (or with CAP_SETUID and CAP_SETGID), or choose single", os.Geteuid())
		}
		return ModeAccounts, nil
	case ModeSingle, ModeShared:
		return m, nil
	}
	return "", fmt.Errorf("security.isolation %q: want auto, accounts, single or shared", m)
}

// Privileged reports whether the process may start children as other users:
// it is root or holds CAP_SETUID and CAP_SETGID.
func Privileged() bool {
	if os.Geteuid() == 0 {
		return true
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	const need = 1<<unix.CAP_SETUID | 1<<unix.CAP_SETGID
	return data[0].Effective&need == need
}

// Harden keeps other processes of the server's OS user from reading the
// server's memory and environment (ptrace, /proc/PID/environ, core dumps).
func Harden() error {
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl PR_SET_DUMPABLE: %w", err)
	}
	return nil
}

// Unsetenv removes the named variables from the process environment once
// they have been read, so that nothing started later and no reader of
// /proc/PID/environ finds them. /proc shows the environment the process was
// started with; Harden is what hides that from other processes.
func Unsetenv(names ...string) {
	for _, n := range names {
		os.Unsetenv(n)
	}
}
