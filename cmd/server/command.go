package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/codeterm/codeterm/auth"
	"github.com/codeterm/codeterm/config"
	"github.com/codeterm/codeterm/isolation"
	"github.com/codeterm/codeterm/sshd"
	"github.com/codeterm/codeterm/store"
	"github.com/codeterm/codeterm/workspaces"
)

// command holds what every sub-command shares.
type command struct {
	stdout, stderr io.Writer
	environ        []string
}

func (c *command) dispatch(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("no command given: %w", errUsage)
	}
	name, rest := args[0], args[1:]
	switch name {
	case "serve":
		return c.serve(ctx, rest)
	case "reload":
		return c.reload(ctx, rest)
	case "user":
		return c.user(ctx, rest)
	case "workspace":
		return c.workspace(ctx, rest)
	case "token":
		return c.token(ctx, rest)
	case "login-link":
		return c.loginLink(ctx, rest)
	case "config-ssh":
		return c.configSSH(ctx, rest)
	case "git-credential":
		return c.gitCredential(ctx, rest)
	case "attach":
		return c.attach(ctx, rest)
	case "sftp-server":
		// Started by the server as a user's OS account, on the channel's streams.
		return sshd.ServeSFTPStdio()
	case "dial-unix":
		if len(rest) != 1 {
			return fmt.Errorf("dial-unix PATH: %w", errUsage)
		}
		return sshd.DialUnixHelper(rest[0])
	case "backup":
		return c.backup(ctx, rest)
	case "restore":
		return c.restore(ctx, rest)
	case "doctor":
		return c.doctor(ctx, rest)
	case "share":
		return c.share(ctx, rest)
	case "unshare":
		return c.unshare(ctx, rest)
	case "recordings":
		return c.recordings(ctx, rest)
	case "version", "--version":
		fmt.Fprintln(c.stdout, "codeterm", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(c.stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q: %w", name, errUsage)
}

// app is an opened data directory: configuration, store and credentials.
type app struct {
	cfg    *config.Config
	store  *store.Store
	auth   *auth.Service
	secret []byte
	log    *slog.Logger
	// mode is the effective security.isolation; accounts is set in
	// accounts mode only.
	mode     isolation.Mode
	accounts *isolation.Accounts
}

// open loads the configuration and opens the data directory, creating it and
// its JWT secret on first use.
func (c *command) open(ctx context.Context, f *flags) (*app, error) {
	cfg, err := config.Load(f.configFile(), c.environ, f.overrides())
	if err != nil {
		return nil, err
	}
	mode, err := isolation.Resolve(isolation.Mode(cfg.Security.Isolation))
	if err != nil {
		return nil, err
	}
	if mode == isolation.ModeAccounts {
		err = openDataDir(cfg.DataDir)
	} else {
		err = auth.EnsureDataDir(cfg.DataDir)
	}
	if err != nil {
		return nil, err
	}
	secret, _, err := auth.LoadOrCreateSecret(filepath.Join(cfg.DataDir, "jwt.secret"))
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, filepath.Join(cfg.DataDir, "codeterm.db"))
	if err != nil {
		return nil, err
	}
	a := &app{
		cfg:    cfg,
		store:  st,
		auth:   auth.New(st, secret, cfg.Auth.TokenTTL, cfg.Auth.LoginCodeTTL),
		secret: secret,
		log:    newLogger(cfg.Log, c.stderr),
		mode:   mode,
	}
	if mode == isolation.ModeSingle {
		a.auth.OneUser = isolation.ErrSingleUser
	}
	if mode == isolation.ModeAccounts {
		limits := isolation.Limits{Memory: int64(cfg.Limits.Memory), Pids: cfg.Limits.Pids}
		if a.accounts, err = isolation.NewAccounts(st, cfg.DataDir, limits, a.log.With("component", "isolation")); err != nil {
			st.Close()
			return nil, err
		}
	}
	return a, nil
}

func (a *app) close() { a.store.Close() }

// workspaces opens the workspace registry. The CLI may use the operator's
// ssh-agent for ssh:// clones; the server never lends it to users.
func (a *app) workspaces(ctx context.Context, killer workspaces.SessionKiller, cli bool) (*workspaces.Manager, error) {
	return workspaces.New(ctx, workspaces.Config{
		Root:              filepath.Join(a.cfg.DataDir, "workspaces"),
		Store:             a.store,
		Sessions:          killer,
		IgnoreDirs:        a.cfg.Workspaces.Ignore,
		UseSSHAgent:       cli,
		Logger:            a.log.With("component", "workspaces"),
		Accounts:          a.accounts,
		AllowPrivateHosts: a.cfg.Workspaces.AllowPrivateHosts,
	})
}

// publicURL is where browsers reach the server.
func (a *app) publicURL() string {
	if a.cfg.PublicURL != "" {
		return strings.TrimRight(a.cfg.PublicURL, "/")
	}
	host, port, _ := net.SplitHostPort(a.cfg.HTTP.Addr)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	scheme := "http"
	if a.cfg.HTTP.TLS() {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

func newLogger(cfg config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level)) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func readFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return data, nil
}
