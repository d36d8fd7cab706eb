package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/codeterm/codeterm/config"
	"github.com/codeterm/codeterm/isolation"
	"github.com/codeterm/codeterm/store"
)

// openDataDir creates the data dir, or corrects an existing one, so that
// users' OS accounts may pass through it to their workspaces and homes
// (mode 0711: no listing; the secrets and the database in it stay 0600),
// after checking that they can reach it at all.
func openDataDir(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(abs, 0o711); err != nil {
		return fmt.Errorf("data dir %s: %w", abs, err)
	}
	if p, mode, err := closedAncestor(abs); err != nil {
		return fmt.Errorf("data dir %s: %w", abs, err)
	} else if p != "" {
		return fmt.Errorf("data dir %s: users' OS accounts cannot reach their workspaces in it because %s is mode %04o; choose a data dir they can pass through (e.g. --data /var/lib/codeterm) or chmod o+x %s", abs, p, mode, p)
	}
	for _, d := range []string{abs, filepath.Join(abs, "workspaces"), filepath.Join(abs, "homes")} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return fmt.Errorf("data dir: %w", err)
		}
		if err := os.Chmod(d, 0o711); err != nil {
			return fmt.Errorf("data dir: %w", err)
		}
	}
	return nil
}

// closedAncestor returns the first directory above path that other users
// may not pass through, "" when there is none.
func closedAncestor(path string) (string, os.FileMode, error) {
	for p := filepath.Dir(path); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return "", 0, err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return p, fi.Mode().Perm(), nil
		}
		if p == "/" {
			return "", 0, nil
		}
	}
}

// osAccountOf describes a user's OS account for user list.
func (a *app) osAccountOf(ctx context.Context, u *store.User) (string, error) {
	if a.accounts == nil {
		return "(server's)", nil
	}
	m, err := a.accounts.Mapping(ctx, u)
	if err != nil || m == nil {
		return "-", err
	}
	if m.Created {
		return m.OSUser + " (created)", nil
	}
	return m.OSUser + " (mapped)", nil
}

// hardenServer keeps the server's memory and environment from other
// processes of its OS user, and takes the secret settings (the GitHub
// client secret) out of the environment once the configuration is read.
// The JWT secret only ever comes from its file.
func hardenServer() error {
	isolation.Unsetenv(config.EnvName("github.client_secret"))
	return isolation.Harden()
}
