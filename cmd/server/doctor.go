package main

import (
	"context"
	"os"

	"github.com/codeterm/codeterm/config"
	"github.com/codeterm/codeterm/doctor"
)

func (c *command) doctor(ctx context.Context, args []string) error {
	f := newFlags("doctor")
	f.configFlag("ssh-addr", "ssh.addr", "SSH listen address")
	f.configFlag("http-addr", "http.addr", "HTTP listen address")
	if _, err := f.parse(args, 0, 0); err != nil {
		return err
	}
	cfg, err := config.Load(f.configFile(), c.environ, f.overrides())
	if err != nil {
		return err
	}
	d := &doctor.Doctor{Config: cfg, Euid: os.Geteuid()}
	if doctor.Write(c.stdout, d.Run(ctx)) {
		return exitStatus(1)
	}
	return nil
}
