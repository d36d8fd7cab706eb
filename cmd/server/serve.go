package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/codeterm/codeterm/auth"
	"github.com/codeterm/codeterm/certs"
	"github.com/codeterm/codeterm/config"
	"github.com/codeterm/codeterm/datadir"
	"github.com/codeterm/codeterm/internal/memory"
	"github.com/codeterm/codeterm/isolation"
	"github.com/codeterm/codeterm/metrics"
	"github.com/codeterm/codeterm/sessions"
	"github.com/codeterm/codeterm/sshd"
	"github.com/codeterm/codeterm/store"
	"github.com/codeterm/codeterm/upgrade"
	"github.com/codeterm/codeterm/webbridge"
)

func (c *command) serve(ctx context.Context, args []string) error {
	f := newFlags("serve")
	f.configFlag("ssh-addr", "ssh.addr", "SSH listen address")
	f.configFlag("http-addr", "http.addr", "HTTP listen address")
	checkUpgrade := f.String(strings.TrimPrefix(upgrade.CheckFlag, "--"), "", "answer a running server about to upgrade to this program")
	if _, err := f.parse(args, 0, 0); err != nil {
		return err
	}
	if *checkUpgrade != "" {
		return c.checkUpgrade(f, *checkUpgrade)
	}
	a, err := c.open(ctx, f)
	if err != nil {
		return err
	}
	defer a.close()
	log := a.log
	if err := hardenServer(); err != nil {
		log.Warn("server hardening", "err", err)
	}
	switch a.mode {
	case isolation.ModeShared:
		log.Warn("security.isolation is shared: every user runs as this server's OS user and can read the others' files and this server's data; use accounts to separate them")
	case isolation.ModeSingle:
		if users, err := a.store.Users(ctx); err != nil {
			return err
		} else if len(users) > 1 {
			return fmt.Errorf("%d users, but %w (or shared, to keep them all on this OS account; see the README's threat model)", len(users), isolation.ErrSingleUser)
		}
	case isolation.ModeAccounts:
		// Users' accounts run this program for sftp, unix-socket forwards
		// and git's credential helper.
		if exe := helperExecutable(); exe == "" {
			log.Warn("cannot find this program: sftp and unix-socket forwards will fail for users")
		} else if p, mode, err := closedAncestor(exe); err != nil || p != "" {
			log.Warn("users' OS accounts cannot run this program: sftp, unix-socket forwards and git credentials will fail for them; install it where they can (e.g. /usr/local/bin)", "path", exe, "closed", p, "mode", fmt.Sprintf("%04o", mode), "err", err)
		}
	}
	log.Info("isolation", "mode", string(a.mode))
	// Before anything starts a child process: the previous image's
	// children are told apart from ours.
	up, err := upgrade.New(log.With("component", "upgrade"))
	if err != nil {
		log.Error("state of the previous program image lost", "err", err)
	}
	up.Environ = c.environ // as started, before hardenServer cleared the secrets
	removePID, err := upgrade.WritePID(a.cfg.DataDir)
	if err != nil {
		return err
	}
	defer removePID()
	lock, err := datadir.Acquire(a.cfg.DataDir)
	if err != nil {
		return err
	}
	defer lock.Release()

	hostKey, hostKeyCreated, err := auth.LoadOrCreateHostKey(filepath.Join(a.cfg.DataDir, "ssh_host_ed25519_key"))
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
	} else if n > 0 && !up.Upgraded() { // an upgrade's sessions are taken over below
		log.Info("sessions of a previous run marked terminated", "count", n)
	}

	cfg := a.cfg
	mgr := sessions.NewManager(sessions.Config{
		RingBytes:       cfg.Sessions.RingBytes,
		Scrollback:      cfg.Sessions.Scrollback,
		QueueBytes:      cfg.Sessions.QueueBytes,
		StallTimeout:    cfg.Sessions.StallTimeout,
		MaxPerUser:      cfg.Sessions.MaxPerUser,
		MaxPerWorkspace: cfg.Sessions.MaxPerWorkspace,
		MaxInputBytes:   cfg.Sessions.MaxInputBytes,
		IdleTimeout:     cfg.Sessions.IdleTimeout,
		KillGrace:       cfg.Sessions.KillGrace,
		RecordDir:       filepath.Join(cfg.DataDir, "recordings"),
		// sessions.record: every session; otherwise those switched on by
		// record-session.
		RecordOnRequest: !cfg.Sessions.Record,
		RecordInput:     cfg.Sessions.RecordInput,
		HistoryDir:      filepath.Join(cfg.DataDir, "history"),
		GitCredential:   gitCredentialFunc(cfg, a.auth),

		ShellIntegration: cfg.Sessions.ShellIntegration,
		Command:          cfg.Sessions.Command,
	}, a.store, log.With("component", "sessions"))
	auditLog := a.auditLog(log.With("component", "audit"))
	defer auditLog.Close()
	mgr.SetAudit(auditLog)
	if data, files, ok, err := up.Take("sessions", sessions.HandoverVersion); err != nil {
		log.Error("sessions of the previous program image lost", "err", err)
	} else if ok {
		n, err := mgr.Import(ctx, data, files)
		log.Info("upgraded in place: sessions taken over", "count", n, "err", err)
	}
	up.Handle("sessions", sessions.HandoverVersion, func() (*upgrade.State, error) {
		h, err := mgr.Export()
		if err != nil {
			return nil, err
		}
		return &upgrade.State{Data: h.Data, Files: h.Files, PIDs: h.PIDs, Resume: h.Resume}, nil
	})
	wsm, err := a.workspaces(ctx, mgr, false)
	if err != nil {
		return err
	}
	defer wsm.Close()

	sshSrv := &sshd.Server{
		HostKey:           hostKey,
		Auth:              a.auth,
		Store:             a.store,
		Sessions:          mgr,
		Workspaces:        wsm,
		Log:               log.With("component", "ssh"),
		PublicURL:         a.publicURL(),
		KeepaliveInterval: cfg.SSH.KeepaliveInterval,
		KeepaliveMax:      cfg.SSH.KeepaliveMax,
		AuthThrottle:      sshThrottle(cfg),
		MaxChannels:       cfg.SSH.MaxChannels,
		HomeFor:           homeFor(cfg, a.accounts),
		Accounts:          a.accounts,
		Executable:        helperExecutable(),
	}
	sshLn, err := up.Listen("ssh", cfg.SSH.Addr)
	if err != nil {
		return err
	}
	cfg.SSH.Addr = sshLn.Addr().String()

	gh, err := githubIntegration(cfg, a.auth)
	if err != nil {
		return fmt.Errorf("github: %w", err)
	}
	web := &webbridge.Server{
		Auth:         a.auth,
		Store:        a.store,
		Sessions:     mgr,
		Workspaces:   wsm,
		Log:          log.With("component", "http"),
		Version:      version,
		LoginLimiter: auth.NewLimiter(a.cfg.Auth.LoginsPerMinute),
		HomeFor:      homeFor(cfg, a.accounts),
		Accounts:     a.accounts,
		GitHub:       gh,
		Files:        fileService(cfg, wsm, a.accounts, log),
		Socket: webbridge.SocketConfig{
			PingInterval:       cfg.HTTP.PingInterval,
			PingTimeout:        cfg.HTTP.PingTimeout,
			MaxPayload:         int64(cfg.HTTP.MaxPayload),
			Compression:        cfg.HTTP.Compression,
			EventsPerSecond:    cfg.HTTP.EventsPerSecond,
			MaxInputBytes:      cfg.Sessions.MaxInputBytes,
			MaxUnauthenticated: cfg.HTTP.MaxUnauthenticated,
			ConnectTimeout:     cfg.HTTP.ConnectTimeout,
			PollGrace:          cfg.HTTP.PollGrace,
		},
	}
	metricsHandler := metrics.Handler(metrics.Sources{Sessions: mgr, Workspaces: wsm, Web: web, SSH: sshSrv})
	if cfg.HTTP.MetricsToken != "" {
		web.Metrics = metrics.WithToken(cfg.HTTP.MetricsToken, metricsHandler)
	}
	var metricsSrv *http.Server
	var metricsLn net.Listener
	if cfg.HTTP.MetricsAddr != "" {
		// Through the upgrader, so an in-place upgrade keeps the port.
		if metricsLn, err = up.Listen("metrics", cfg.HTTP.MetricsAddr); err != nil {
			return err
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", metricsHandler)
		metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		log.Info("metrics", "addr", metricsLn.Addr().String())
	}
	web.TrustedProxies = cfg.HTTP.Proxies()
	tlsSetup, err := certs.FromConfig(cfg, log.With("component", "tls"))
	if err != nil {
		return err
	}
	httpLn, err := up.Listen("http", a.cfg.HTTP.Addr)
	if err != nil {
		return err
	}
	a.cfg.HTTP.Addr = httpLn.Addr().String() // the real port when the flag asked for :0
	if tlsSetup.TLS != nil {
		httpLn = tls.NewListener(httpLn, tlsSetup.TLS)
	}
	web.PublicURL = a.publicURL()
	web.AllowedHosts = []string{a.cfg.HTTP.Addr}
	// config-ssh reads the addresses really listened on.
	if removeRunning, err := config.WriteRunning(cfg.DataDir, config.Running{PID: os.Getpid(), SSHAddr: cfg.SSH.Addr, HTTPAddr: a.cfg.HTTP.Addr}); err != nil {
		log.Warn("record listen addresses", "err", err)
	} else {
		defer removeRunning()
	}
	web.PreviewDomain = cfg.HTTP.PreviewDomain
	web.SSHTarget = func(user string) string { return sshTarget(cfg, user) }
	httpSrv := &http.Server{Handler: web.Handler(), ReadHeaderTimeout: 10 * time.Second}
	var challengeSrv *http.Server
	var challengeLn net.Listener
	if tlsSetup.ChallengeAddr != "" {
		if challengeLn, err = net.Listen("tcp", tlsSetup.ChallengeAddr); err != nil {
			return fmt.Errorf("acme http-01 listen: %w", err)
		}
		challengeSrv = &http.Server{Handler: tlsSetup.Challenge, ReadHeaderTimeout: 10 * time.Second}
	}
	// Socket.IO connections are hijacked or long polls: Shutdown alone
	// would wait for them. Closing the bridge tells clients to reconnect.
	httpSrv.RegisterOnShutdown(func() { web.Close() })
	up.BeforeExec(web.Restarting)
	up.BeforeExec(sshSrv.Restarting)
	up.Ready()

	code, err := a.auth.NewLoginCode(ctx, owner.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "codeterm %s is running (data in %s)\n", version, a.cfg.DataDir)
	fmt.Fprintf(c.stdout, "  ssh:     ssh %s WORKSPACE\n", sshTarget(cfg, owner.Name))
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
	g.Go(func() error { return sshSrv.Serve(sshLn) })
	g.Go(func() error { return up.Run(gctx) })
	memory.SetLimit(int64(cfg.Limits.ServerMemory))
	memory.SetGCPercent(cfg.Limits.ServerGCPercent)
	g.Go(func() error {
		(&memory.Trimmer{Idle: cfg.Limits.ServerIdle, Log: log.With("component", "memory")}).Run(gctx)
		return nil
	})
	g.Go(func() error {
		web.Files.Run(gctx)
		return web.Files.Close()
	})
	if challengeSrv != nil {
		g.Go(func() error {
			if err := challengeSrv.Serve(challengeLn); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("acme http-01: %w", err)
			}
			return nil
		})
		g.Go(func() error {
			<-gctx.Done()
			return challengeSrv.Close()
		})
	}
	if metricsSrv != nil {
		g.Go(func() error {
			if err := metricsSrv.Serve(metricsLn); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("metrics: %w", err)
			}
			return nil
		})
	}
	web.SetReady(true)
	g.Go(func() error {
		// As often as the browser bridge looks for revoked users.
		wsm.WatchDeleted(gctx, 2*time.Second)
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		web.SetReady(false)
		log.Info("shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var metricsErr error
		if metricsSrv != nil {
			metricsErr = metricsSrv.Shutdown(sctx)
		}
		return errors.Join(sshSrv.Shutdown(sctx), httpSrv.Shutdown(sctx), mgr.Shutdown(sctx), metricsErr)
	})
	return g.Wait()
}

// checkUpgrade answers a running server that is about to execute this
// program in its place: the configuration must load as the server would
// load it, and every part of the state must be in a format this program reads.
func (c *command) checkUpgrade(f *flags, spec string) error {
	if _, err := config.Load(*f.config, c.environ, f.overrides()); err != nil {
		return err
	}
	if err := upgrade.Check(spec, map[string]int{"sessions": sessions.HandoverVersion}); err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, "codeterm", version, "can take over")
	return nil
}

// reload asks the running server to upgrade in place (as SIGHUP does).
func (c *command) reload(ctx context.Context, args []string) error {
	f := newFlags("reload")
	if _, err := f.parse(args, 0, 0); err != nil {
		return err
	}
	cfg, err := config.Load(*f.config, c.environ, f.overrides())
	if err != nil {
		return err
	}
	pid, err := upgrade.Signal(cfg.DataDir)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "asked codeterm (pid %d) to reload; its log says how it went\n", pid)
	return nil
}

// sshTarget is the "-p PORT user@host" part of the ssh command to print.
func sshTarget(cfg *config.Config, user string) string {
	host, port, _ := net.SplitHostPort(cfg.SSH.Addr)
	if cfg.SSH.Host != "" {
		host = cfg.SSH.Host
	} else if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	if port == "22" {
		return user + "@" + host
	}
	return "-p " + port + " " + user + "@" + host
}

// homeFor gives each user a HOME under the data dir when ssh.user_homes is
// set (so ~/.vscode-server is per user); otherwise shells get the server's
// HOME. With OS accounts the account's own HOME is used instead.
func homeFor(cfg *config.Config, accounts *isolation.Accounts) func(*store.User) string {
	if !cfg.SSH.UserHomes || accounts != nil {
		return nil
	}
	root := filepath.Join(cfg.DataDir, "homes")
	return func(u *store.User) string {
		dir := filepath.Join(root, u.Name)
		os.MkdirAll(dir, 0o700)
		return dir
	}
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

// helperExecutable is this program, which runs the sftp subsystem and
// unix-socket dials as users' OS accounts; "" when it cannot be found.
func helperExecutable() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	return exe
}

// sshThrottle holds back the answers to failed SSH authentications.
func sshThrottle(cfg *config.Config) *auth.Throttle {
	t := auth.NewThrottle(cfg.SSH.AuthFailuresPerMinute)
	t.Max = cfg.SSH.AuthFailureMaxDelay
	return t
}
