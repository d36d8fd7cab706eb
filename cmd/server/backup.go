package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/codeterm/codeterm/backup"
	"github.com/codeterm/codeterm/config"
)

func (c *command) backup(ctx context.Context, args []string) error {
	f := newFlags("backup")
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return err
	}
	// Before open, which would make a fresh installation to back up.
	cfg, err := config.Load(f.configFile(), c.environ, f.overrides())
	if err != nil {
		return err
	}
	if err := backup.Check(cfg.DataDir); err != nil {
		return err
	}
	a, err := c.open(ctx, f)
	if err != nil {
		return err
	}
	defer a.close()
	// Written beside the target and renamed, so FILE is whole or absent.
	out, err := os.CreateTemp(filepath.Dir(pos[0]), "."+filepath.Base(pos[0])+".*")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer os.Remove(out.Name())
	if err := out.Chmod(0o600); err != nil {
		out.Close()
		return fmt.Errorf("backup: %w", err)
	}
	if err := backup.Write(ctx, a.cfg.DataDir, a.store, out); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := os.Rename(out.Name(), pos[0]); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	fmt.Fprintf(c.stdout, "backed up %s to %s\n", a.cfg.DataDir, pos[0])
	return nil
}

func (c *command) restore(ctx context.Context, args []string) error {
	f := newFlags("restore")
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return err
	}
	cfg, err := config.Load(f.configFile(), c.environ, f.overrides())
	if err != nil {
		return err
	}
	in, err := os.Open(pos[0])
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer in.Close()
	if err := backup.Restore(in, cfg.DataDir); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "restored %s into %s\n", pos[0], cfg.DataDir)
	return nil
}
