package main

import (
	"context"
	"fmt"
	"net"

	"github.com/codeterm/codeterm/auth"
	"github.com/codeterm/codeterm/config"
	"github.com/codeterm/codeterm/sshd"
)

// configSSH prints ~/.ssh/config entries, one per workspace of a user (the
// owner account by default), so
// that `ssh demo` and VS Code's Remote-SSH host list work.
func (c *command) configSSH(ctx context.Context, args []string) error {
	f := newFlags("config-ssh")
	host := f.String("host", "", "host name clients use to reach the server (default: ssh.host, else the host of ssh.addr)")
	prefix := f.String("prefix", "", "text put before each workspace name in the Host alias")
	pos, err := f.parse(args, 0, 1)
	if err != nil {
		return err
	}
	a, err := c.open(ctx, f)
	if err != nil {
		return err
	}
	defer a.close()
	name := ""
	if len(pos) == 1 {
		name = pos[0]
	} else {
		osUser, _ := currentUser()
		name = auth.OwnerName(osUser)
	}
	u, err := a.auth.User(ctx, name)
	if err != nil {
		return err
	}
	list, err := a.store.Workspaces(ctx, u.ID)
	if err != nil {
		return err
	}
	h, port, err := net.SplitHostPort(a.cfg.SSH.Addr)
	if err != nil {
		return fmt.Errorf("ssh.addr: %w", err)
	}
	if r, ok := config.ReadRunning(a.cfg.DataDir); ok {
		if rh, rp, err := net.SplitHostPort(r.SSHAddr); err == nil && rp != port {
			fmt.Fprintf(c.stderr, "the running server (pid %d) listens on %s, not on the configured %s: using port %s\n", r.PID, r.SSHAddr, a.cfg.SSH.Addr, rp)
			h, port = rh, rp
		}
	}
	switch {
	case *host != "":
		h = *host
	case a.cfg.SSH.Host != "":
		h = a.cfg.SSH.Host
	case h == "" || h == "0.0.0.0" || h == "::":
		h = "localhost"
	}
	if len(list) == 0 {
		fmt.Fprintf(c.stderr, "user %s has no workspace yet\n", u.Name)
	}
	return sshd.WriteConfig(c.stdout, sshd.ConfigEntries(u, list, h, port, *prefix))
}
