package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/codeterm/codeterm/auth"
	"github.com/codeterm/codeterm/webbridge"
)

func (c *command) serve(ctx context.Context, args []string) error {
	f := newFlags("serve")
	f.configFlag("ssh-addr", "ssh.addr", "SSH listen address")
	f.configFlag("http-addr", "http.addr", "HTTP listen address")
	if _, err := f.parse(args, 0, 0); err != nil {
		return err
	}
	a, err := c.open(ctx, f)
	if err != nil {
		return err
	}
	defer a.close()
	log := a.log

	_, hostKeyCreated, err := auth.LoadOrCreateHostKey(filepath.Join(a.cfg.DataDir, "ssh_host_ed25519_key"))
	if err != nil {
		return err
	}
	osUser, home := currentUser()
	owner, keys, firstRun, err := a.auth.EnsureOwner(ctx, osUser, filepath.Join(home, ".ssh"))
	if err != nil {
		return fmt.Errorf("owner account: %w", err)
	}
	if firstRun {
		log.Info("first run: created owner account", "user", owner.Name, "keys", len(keys), "host_key_created", hostKeyCreated, "data", a.cfg.DataDir)
	}
	if n, err := a.store.MarkStaleSessions(ctx); err != nil {
		return err
	} else if n > 0 {
		log.Info("sessions of a previous run marked terminated", "count", n)
	}

	web := &webbridge.Server{
		Auth:         a.auth,
		Store:        a.store,
		Log:          log.With("component", "http"),
		Version:      version,
		LoginLimiter: auth.NewLimiter(a.cfg.Auth.LoginsPerMinute),
	}
	httpLn, err := net.Listen("tcp", a.cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("http listen: %w", err)
	}
	a.cfg.HTTP.Addr = httpLn.Addr().String() // the real port when the flag asked for :0
	httpSrv := &http.Server{Handler: web.Handler(), ReadHeaderTimeout: 10 * time.Second}

	code, err := a.auth.NewLoginCode(ctx, owner.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "codeterm %s is running (data in %s)\n", version, a.cfg.DataDir)
	fmt.Fprintf(c.stdout, "  web:     %s\n", a.publicURL())
	fmt.Fprintf(c.stdout, "  browser: %s\n           (one-time login link for %s, valid %s; more with: codeterm login-link %s)\n",
		auth.LoginURL(a.publicURL(), code), owner.Name, a.cfg.Auth.LoginCodeTTL, owner.Name)
	if firstRun && len(keys) == 0 {
		fmt.Fprintf(c.stdout, "  no SSH public key found in %s; add one with: codeterm user key add %s ~/.ssh/id_ed25519.pub\n",
			filepath.Join(home, ".ssh"), owner.Name)
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := httpSrv.Serve(httpLn); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		log.Info("shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return httpSrv.Shutdown(sctx)
	})
	return g.Wait()
}

// currentUser names the OS user running the server and their home directory.
func currentUser() (name, home string) {
	home, _ = os.UserHomeDir()
	if u, err := user.Current(); err == nil {
		name = u.Username
		if home == "" {
			home = u.HomeDir
		}
	}
	if name == "" {
		name = os.Getenv("USER")
	}
	return name, home
}
