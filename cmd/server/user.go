package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/codeterm/codeterm/auth"
	"github.com/codeterm/codeterm/isolation"
)

func (c *command) user(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("user: missing sub-command (add, key, list, rm, revoke): %w", errUsage)
	}
	sub, args := args[0], args[1:]
	if sub == "key" {
		if len(args) == 0 {
			return fmt.Errorf("user key: missing sub-command (add, rm): %w", errUsage)
		}
		sub, args = "key "+args[0], args[1:]
	}
	f := newFlags("user " + sub)
	var keyFile, osUser *string
	want := map[string][2]int{"add": {1, 1}, "key add": {2, 2}, "key rm": {2, 2}, "list": {0, 0}, "rm": {1, 1}, "revoke": {1, 1}}
	n, ok := want[sub]
	if !ok {
		return fmt.Errorf("user: unknown sub-command %q: %w", sub, errUsage)
	}
	if sub == "add" {
		keyFile = f.String("key", "", "public key file")
		osUser = f.String("os-user", "", "existing OS account the user runs as (accounts mode; default: a new ct-NAME account)")
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

	switch sub {
	case "add":
		var keys []auth.PublicKey
		if *keyFile != "" {
			if keys, err = readKeys(*keyFile); err != nil {
				return err
			}
		}
		if *osUser != "" && a.accounts == nil {
			return fmt.Errorf("user add --os-user: security.isolation is %s; OS accounts are used in accounts mode only", a.mode)
		}
		u, err := a.auth.AddUser(ctx, pos[0])
		if err != nil {
			return err
		}
		if _, err := a.auth.AddKeys(ctx, u, keys); err != nil {
			a.store.DeleteUser(ctx, u.ID)
			return err
		}
		account := ""
		if a.accounts != nil {
			var acct *isolation.Account
			if *osUser != "" {
				acct, err = a.accounts.Map(ctx, u, *osUser)
			} else {
				acct, err = a.accounts.For(ctx, u)
			}
			if err != nil {
				a.store.DeleteUser(ctx, u.ID)
				return err
			}
			account = fmt.Sprintf(", OS account %s (uid %d)", acct.Name, acct.UID)
		}
		fmt.Fprintf(c.stdout, "added user %s with %d key(s)%s\n", u.Name, len(keys), account)
	case "key add":
		u, err := a.auth.User(ctx, pos[0])
		if err != nil {
			return err
		}
		keys, err := readKeys(pos[1])
		if err != nil {
			return err
		}
		added, err := a.auth.AddKeys(ctx, u, keys)
		if err != nil {
			return err
		}
		for _, k := range added {
			fmt.Fprintf(c.stdout, "added %s %s\n", k.Fingerprint(), k.Comment)
		}
		if len(added) == 0 {
			fmt.Fprintln(c.stdout, "no new key: the user already has them")
		}
	case "key rm":
		u, err := a.auth.User(ctx, pos[0])
		if err != nil {
			return err
		}
		if err := a.store.RemoveSSHKey(ctx, u.ID, pos[1]); err != nil {
			return fmt.Errorf("user %s has no key %s (see codeterm user list)", u.Name, pos[1])
		}
		fmt.Fprintf(c.stdout, "removed %s\n", pos[1])
	case "list":
		users, err := a.store.Users(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tKEYS\tCREATED\tOS ACCOUNT")
		for _, u := range users {
			keys, err := a.store.SSHKeys(ctx, u.ID)
			if err != nil {
				return err
			}
			var fps []string
			for _, k := range keys {
				fps = append(fps, k.Fingerprint)
			}
			osAcct, err := a.osAccountOf(ctx, u)
			if err != nil {
				return err
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Name, strings.Join(fps, " "), u.CreatedAt.Format("2006-01-02"), osAcct)
		}
		return tw.Flush()
	case "rm":
		u, err := a.auth.User(ctx, pos[0])
		if err != nil {
			return err
		}
		// The account's processes end and the account goes first: its
		// files are then removed, so that no later account given the same
		// uid inherits them.
		osName, deleted, err := a.accounts.Remove(ctx, u)
		if err != nil {
			return err
		}
		if deleted {
			if err := os.RemoveAll(filepath.Join(a.cfg.DataDir, "workspaces", u.Name)); err != nil {
				return fmt.Errorf("remove workspaces of %s: %w", u.Name, err)
			}
		}
		if err := a.store.DeleteUser(ctx, u.ID); err != nil {
			return err
		}
		switch {
		case deleted:
			fmt.Fprintf(c.stdout, "removed user %s and OS account %s\n", u.Name, osName)
		case osName != "":
			fmt.Fprintf(c.stdout, "removed user %s (OS account %s kept: codeterm did not create it)\n", u.Name, osName)
		default:
			fmt.Fprintf(c.stdout, "removed user %s\n", u.Name)
		}
	case "revoke":
		u, err := a.auth.User(ctx, pos[0])
		if err != nil {
			return err
		}
		if err := a.auth.RevokeUser(ctx, u.ID); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "revoked every token of %s\n", u.Name)
	}
	return nil
}

func readKeys(path string) ([]auth.PublicKey, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	keys, err := auth.ParsePublicKeys(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return keys, nil
}
