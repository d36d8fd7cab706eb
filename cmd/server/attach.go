package main

import (
	"context"
	"os"

	"github.com/codeterm/codeterm/sshd"
)

// exitStatus is a sub-command's exit status other than 0, 1 and 2: that of
// the session codeterm attach was attached to.
type exitStatus int

func (e exitStatus) Error() string { return "exit status" }

// attach is `codeterm attach WORKSPACE[/SESSION]`, run inside a workspace
// login (mosh alice+demo@host -- codeterm attach demo).
func (c *command) attach(ctx context.Context, args []string) error {
	f := newFlags("attach")
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return err
	}
	code, err := sshd.AttachLocal(ctx, pos[0], c.environ, os.Stdin, c.stdout, c.stderr)
	if err != nil {
		return err
	}
	if code != 0 {
		return exitStatus(code)
	}
	return nil
}
