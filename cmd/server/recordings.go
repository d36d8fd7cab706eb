package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/codeterm/codeterm/sessions"
)

// recordings list | export SESSION [FILE]
func (c *command) recordings(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("recordings: missing sub-command (list, export): %w", errUsage)
	}
	sub, args := args[0], args[1:]
	f := newFlags("recordings " + sub)
	var n [2]int
	switch sub {
	case "list":
	case "export":
		n = [2]int{1, 2}
	default:
		return fmt.Errorf("recordings: unknown sub-command %q: %w", sub, errUsage)
	}
	pos, err := f.parse(args, n[0], n[1])
	if err != nil {
		return err
	}
	a, err := c.open(ctx, f)
	if err != nil {
		return err
	}
	defer a.close()
	dir := filepath.Join(a.cfg.DataDir, "recordings")
	list, err := sessions.Recordings(ctx, a.store, dir)
	if err != nil {
		return err
	}
	if sub == "list" {
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SESSION\tOWNER\tNAME\tSTATUS\tBYTES\tMODIFIED")
		for _, r := range list {
			owner, name, status := "?", "", "?"
			if r.Session != nil {
				name, status = r.Session.Name, r.Session.Status
				if u, err := a.store.UserByID(ctx, r.Session.UserID); err == nil {
					owner = u.Name
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", r.SessionID, owner, name, status, r.Size, r.Modified.Format("2006-01-02 15:04:05"))
		}
		return tw.Flush()
	}
	for _, r := range list {
		if r.SessionID != pos[0] {
			continue
		}
		src, err := os.Open(r.Path)
		if err != nil {
			return fmt.Errorf("export recording %s: %w", r.SessionID, err)
		}
		defer src.Close()
		if len(pos) == 1 || pos[1] == "-" {
			_, err = io.Copy(c.stdout, src)
			return err
		}
		dst, err := os.OpenFile(pos[1], os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("export recording %s: %w", r.SessionID, err)
		}
		if _, err := io.Copy(dst, src); err != nil {
			dst.Close()
			return fmt.Errorf("export recording %s: %w", r.SessionID, err)
		}
		return dst.Close()
	}
	return fmt.Errorf("no recording of session %q (codeterm recordings list shows them)", pos[0])
}
