package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/codeterm/codeterm/store"
	"github.com/codeterm/codeterm/workspaces"
)

func (c *command) workspace(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("workspace: missing sub-command (create, list, rm): %w", errUsage)
	}
	sub, args := args[0], args[1:]
	f := newFlags("workspace " + sub)
	owner := f.String("owner", "", "owning user")
	var repo, branch *string
	var depth *int
	n := [2]int{1, 1}
	switch sub {
	case "create":
		repo = f.String("repo", "", "repository URL to clone")
		branch = f.String("branch", "", "branch to check out")
		depth = f.Int("depth", 0, "shallow clone depth")
	case "list":
		n = [2]int{0, 0}
	case "rm":
	default:
		return fmt.Errorf("workspace: unknown sub-command %q: %w", sub, errUsage)
	}
	pos, err := f.parse(args, n[0], n[1])
	if err != nil {
		return err
	}
	if *owner == "" && sub != "list" {
		return fmt.Errorf("workspace %s: --owner USER is required: %w", sub, errUsage)
	}
	a, err := c.open(ctx, f)
	if err != nil {
		return err
	}
	defer a.close()
	var u *store.User
	if *owner != "" {
		if u, err = a.auth.User(ctx, *owner); err != nil {
			return err
		}
	}
	// The CLI runs beside the server: sessions live in the server process,
	// so there is nothing here to kill; the server notices on its own.
	wsm, err := a.workspaces(ctx, nil, true)
	if err != nil {
		return err
	}
	defer wsm.Close()

	switch sub {
	case "create":
		last := ""
		ws, err := wsm.Create(ctx, u, workspaces.CreateOptions{
			Name: pos[0], RepoURL: *repo, Branch: *branch, Depth: *depth,
			Progress: func(p workspaces.Progress) {
				if line := fmt.Sprintf("%3d%% %s", p.Percent, p.Message); line != last {
					fmt.Fprintln(c.stderr, line)
					last = line
				}
			},
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "created workspace %s for %s in %s\n", ws.Name, u.Name, ws.LocalPath)
	case "list":
		userID := ""
		if u != nil {
			userID = u.ID
		}
		list, err := wsm.List(ctx, userID)
		if err != nil {
			return err
		}
		names := map[string]string{}
		users, err := a.store.Users(ctx)
		if err != nil {
			return err
		}
		for _, usr := range users {
			names[usr.ID] = usr.Name
		}
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tOWNER\tBRANCH\tREPOSITORY\tPATH")
		for _, ws := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", ws.Name, names[ws.UserID], workspaces.CurrentBranch(ws.LocalPath), ws.RepoURL, ws.LocalPath)
		}
		return tw.Flush()
	case "rm":
		ws, err := wsm.GetByName(ctx, u.ID, pos[0])
		if errors.Is(err, workspaces.ErrNotFound) {
			return fmt.Errorf("user %s has no workspace %q", u.Name, pos[0])
		}
		if err != nil {
			return err
		}
		if err := wsm.Delete(ctx, u.ID, ws.ID); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "removed workspace %s of %s\n", ws.Name, u.Name)
	}
	return nil
}
