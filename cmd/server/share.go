package main

import (
	"context"
	"fmt"
	"log/slog"
	"os/user"
	"path/filepath"

	"github.com/codeterm/codeterm/audit"

	"github.com/codeterm/codeterm/sessions"
)

// share SESSION USER --role viewer|editor [--ttl D]
func (c *command) share(ctx context.Context, args []string) error {
	f := newFlags("share")
	role := f.String("role", "viewer", "viewer or editor")
	ttl := f.Duration("ttl", 0, "the invitation's life (default: until unshared)")
	pos, err := f.parse(args, 2, 2)
	if err != nil {
		return err
	}
	a, err := c.open(ctx, f)
	if err != nil {
		return err
	}
	defer a.close()
	guest, err := a.auth.User(ctx, pos[1])
	if err != nil {
		return err
	}
	al := a.auditLog(nil)
	defer al.Close()
	sh, err := sessions.ShareStored(ctx, a.store, al, cliWho(), pos[0], sessions.Who{UserID: guest.ID, User: guest.Name}, sessions.Role(*role), *ttl)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "shared session %s with %s as %s", sh.SessionID, guest.Name, sh.Role)
	if !sh.ExpiresAt.IsZero() {
		fmt.Fprintf(c.stdout, " until %s", sh.ExpiresAt.Format("2006-01-02 15:04:05 MST"))
	}
	fmt.Fprintf(c.stdout, "\n  %s attaches with: ssh -t %s@HOST @%s, or the web page at /s/%s\n", guest.Name, guest.Name, sh.SessionID, sh.SessionID)
	if sh.Role == sessions.RoleEditor {
		fmt.Fprintln(c.stdout, "  as editor they type into the owner's shell, which runs as the owner's account")
	}
	return nil
}

// unshare SESSION USER
func (c *command) unshare(ctx context.Context, args []string) error {
	f := newFlags("unshare")
	pos, err := f.parse(args, 2, 2)
	if err != nil {
		return err
	}
	a, err := c.open(ctx, f)
	if err != nil {
		return err
	}
	defer a.close()
	guest, err := a.auth.User(ctx, pos[1])
	if err != nil {
		return err
	}
	al := a.auditLog(nil)
	defer al.Close()
	if err := sessions.UnshareStored(ctx, a.store, al, cliWho(), pos[0], sessions.Who{UserID: guest.ID, User: guest.Name}); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "session %s is no longer shared with %s\n", pos[0], guest.Name)
	return nil
}

// cliWho is the operator at the server's console, as the audit log names
// them: the OS account that ran the command.
func cliWho() sessions.Who {
	name := "operator"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return sessions.Who{User: name, Via: "cli"}
}

// auditLog opens the data dir's audit log, also writing to log if not nil;
// or returns nil (no audit file) when it cannot.
func (a *app) auditLog(log *slog.Logger) *audit.Log {
	l, err := audit.Open(filepath.Join(a.cfg.DataDir, "audit.log"), 0, 0, log)
	if err != nil {
		a.log.Warn("no audit log", "err", err)
		return nil
	}
	return l
}
