package main

import (
	"context"
	"fmt"

	"github.com/codeterm/codeterm/auth"
)

func (c *command) token(ctx context.Context, args []string) error {
	f := newFlags("token")
	ttl := f.Duration("ttl", 0, "token life (default auth.token_ttl)")
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return err
	}
	if *ttl < 0 {
		return fmt.Errorf("token: --ttl must be positive: %w", errUsage)
	}
	a, err := c.open(ctx, f)
	if err != nil {
		return err
	}
	defer a.close()
	u, err := a.auth.User(ctx, pos[0])
	if err != nil {
		return err
	}
	tok, _, err := a.auth.IssueToken(u, *ttl)
	if err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, tok)
	return nil
}

func (c *command) loginLink(ctx context.Context, args []string) error {
	f := newFlags("login-link")
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return err
	}
	a, err := c.open(ctx, f)
	if err != nil {
		return err
	}
	defer a.close()
	u, err := a.auth.User(ctx, pos[0])
	if err != nil {
		return err
	}
	code, err := a.auth.NewLoginCode(ctx, u.ID)
	if err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, auth.LoginURL(a.publicURL(), code))
	return nil
}
