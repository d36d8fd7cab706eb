// Package workspaces is codeterm's workspace registry and git layer: it
// creates workspaces (empty, or cloned with progress), deletes them, syncs
// them with their remote, reports their git status and watches their files.
//
// A workspace is a git checkout at <Config.Root>/<user name>/<workspace name>
// plus a row in the store. The Manager keeps the two in step: a Create or
// Delete that fails or is cancelled leaves neither a directory nor a row.
//
// Nothing here speaks HTTP or Socket.IO. The browser bridge and the CLI call
// the Manager and translate its results: Progress becomes workspace-progress,
// SyncResult workspace-synced, GitStatus the git part of workspace-status,
// FileEvent file-changed, and Code(err) the code of workspace-error.
package workspaces

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/codeterm/codeterm/isolation"
	"github.com/codeterm/codeterm/store"
	"github.com/fsnotify/fsnotify"
)

// DefaultIgnoreDirs are the directory names the file watcher never enters.
var DefaultIgnoreDirs = []string{".git", "node_modules", "target", "dist", ".venv"}

// SessionKiller ends every terminal session of a workspace. Delete calls it
// before removing the files so no shell keeps running in a deleted directory;
// PruneSessions for workspaces deleted by another process (the CLI).
type SessionKiller interface {
	KillWorkspace(workspaceID string)
	// RunningWorkspaces lists the ids of the workspaces with sessions.
	RunningWorkspaces() []string
}

// Config configures a Manager. Root and Store are required; the zero value
// of every other field is a working default.
type Config struct {
	// Root holds all workspaces, normally <data>/workspaces.
	Root string
	// Store records workspaces.
	Store *store.Store
	// Sessions, if not nil, is told to kill a workspace's sessions on Delete.
	Sessions SessionKiller
	// IgnoreDirs are directory names (matched anywhere in the tree) the
	// watcher skips. Nil means DefaultIgnoreDirs; ".git" is always ignored.
	IgnoreDirs []string
	// GitBinary is the git executable used for Status, which is much faster
	// than go-git's on large trees (see BenchmarkStatus), and for cloning
	// http(s) remotes, whose progress only git reports in full (go-git's
	// bar stalls while the pack downloads). "" looks up "git" in PATH; if
	// none is found both fall back to go-git. ssh remotes are always cloned
	// with go-git, which holds their keys (Auth.SSH).
	GitBinary string
	// NoGitBinary forces go-git for Status and Create even when git is
	// installed.
	NoGitBinary bool
	// UseSSHAgent lets ssh remotes without Auth.SSH fall back to the
	// process's own ssh-agent and known_hosts. Right for the CLI; leave it
	// false in the server, where it would lend the operator's keys to every
	// user.
	UseSSHAgent bool
	// AllowPrivateHosts lets clones and syncs reach remotes whose host is
	// or resolves to a loopback, private, link-local or unspecified
	// address. Off, such remotes are refused, so that a user cannot make
	// the server fetch from its own network (SSRF).
	AllowPrivateHosts bool
	// PollInterval is how often a watcher rescans the tree once inotify
	// watches have run out (default 2s).
	PollInterval time.Duration
	// CoalesceWindow is how long file events for one path are merged before
	// they are delivered (default 100ms).
	CoalesceWindow time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Accounts, if not nil, gives each user's workspaces to the user's OS
	// account: <Root>/<user> is the server's, mode 0710 with the account's
	// group, and each workspace in it the account's, mode 0700.
	Accounts *isolation.Accounts
}

// Manager is the workspace registry. It is safe for concurrent use, also
// alongside another process (the CLI next to the server) using the same Root
// and store: creation goes through a private temporary directory and an
// atomic rename, and the store's unique (user, name) key settles races.
type Manager struct {
	cfg    Config
	log    *slog.Logger
	git    string // resolved git binary, "" when Status and Create must use go-git
	ignore map[string]bool

	addWatch     func(w *fsnotify.Watcher, dir string) error // test hook, nil in production
	cloneStarted func(cmd *exec.Cmd)                         // test hook, nil in production: a git clone started
	limitLogged  atomic.Bool                                 // see WatchOptions.limitLogged
	ops          opCounters

	// Checks of remote hosts (hosts.go, guard.go).
	lookupHost func(ctx context.Context, host string) ([]netip.Addr, error) // test hook, nil: the system resolver
	isPublic   func(netip.Addr) bool                                        // test hook, nil: public
	guardOnce  sync.Once
	guard      *guard // go-git's proxy to public addresses, started on first use
	guardErr   error

	mu      sync.Mutex
	clones  map[cloneKey]context.CancelFunc
	locks   map[string]*wsLock
	watches map[string]*sharedWatch
}

type cloneKey struct{ userID, name string }

type wsLock struct {
	mu   sync.Mutex
	refs int
}

// Temporary directories live next to the workspaces so the final rename is
// atomic; the leading dot keeps them out of the workspace namespace
// (ValidateName refuses leading dots).
const (
	partialPrefix  = ".partial-"
	deletingPrefix = ".deleting-"
	staleAge       = 24 * time.Hour
)

// New returns a Manager, creating Root if needed and tidying up what a
// crashed Create or Delete left behind.
func New(ctx context.Context, cfg Config) (*Manager, error) {
	if cfg.Root == "" || cfg.Store == nil {
		return nil, errors.New("workspaces: Config.Root and Config.Store are required")
	}
	root, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("workspaces root %s: %w", cfg.Root, err)
	}
	cfg.Root = root
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("workspaces root: %w", err)
	}
	if cfg.IgnoreDirs == nil {
		cfg.IgnoreDirs = DefaultIgnoreDirs
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 2 * time.Second
	}
	if cfg.CoalesceWindow <= 0 {
		cfg.CoalesceWindow = 100 * time.Millisecond
	}
	m := &Manager{
		cfg:     cfg,
		log:     cfg.Logger,
		ignore:  map[string]bool{".git": true},
		clones:  map[cloneKey]context.CancelFunc{},
		locks:   map[string]*wsLock{},
		watches: map[string]*sharedWatch{},
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	for _, d := range cfg.IgnoreDirs {
		m.ignore[d] = true
	}
	if !cfg.NoGitBinary {
		bin := cfg.GitBinary
		if bin == "" {
			bin = "git"
		}
		if p, err := exec.LookPath(bin); err == nil {
			m.git = p
		} else {
			m.log.Info("git binary not found; status and clones use go-git", "git", bin)
		}
	}
	m.sweep(ctx)
	return m, nil
}

// Close stops every watcher and cancels every clone in flight.
func (m *Manager) Close() error {
	m.guardOnce.Do(func() { m.guardErr = errors.New("workspace manager closed") })
	if m.guard != nil {
		m.guard.close()
	}
	m.mu.Lock()
	for _, cancel := range m.clones {
		cancel()
	}
	watches := m.watches
	m.watches = map[string]*sharedWatch{}
	m.mu.Unlock()
	for _, w := range watches {
		w.stop()
	}
	return nil
}

// Root is the absolute directory holding all workspaces.
func (m *Manager) Root() string { return m.cfg.Root }

// Path is where a user's workspace of that name lives (or would live).
func (m *Manager) Path(user *store.User, name string) (string, error) {
	if err := ValidateName(name); err != nil {
		return "", err
	}
	dir, err := m.userDir(user)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, name), nil
}

// prepareUserDir creates the directory of the user's workspaces. With an
// OS account it stays the server's (so the account can never swap what the
// server works on for a symlink) and only the account's group may enter it.
func (m *Manager) prepareUserDir(dir string, acct *isolation.Account) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if acct == nil {
		return nil
	}
	if err := os.Chmod(m.cfg.Root, 0o711); err != nil {
		return err
	}
	if err := os.Chown(dir, os.Getuid(), int(acct.GID)); err != nil {
		return err
	}
	return os.Chmod(dir, 0o710)
}

func (m *Manager) userDir(user *store.User) (string, error) {
	n := user.Name
	if n == "" || n == "." || n == ".." || strings.ContainsAny(n, "/\\\x00") {
		return "", fmt.Errorf("user name %q cannot be used as a directory name", n)
	}
	return filepath.Join(m.cfg.Root, n), nil
}

// Get returns one of the user's workspaces by id.
func (m *Manager) Get(ctx context.Context, userID, id string) (*store.Workspace, error) {
	ws, err := m.cfg.Store.Workspace(ctx, userID, id)
	return ws, notFound(err)
}

// GetByName returns one of the user's workspaces by name.
func (m *Manager) GetByName(ctx context.Context, userID, name string) (*store.Workspace, error) {
	ws, err := m.cfg.Store.WorkspaceByName(ctx, userID, name)
	return ws, notFound(err)
}

// List returns the user's workspaces ordered by name.
func (m *Manager) List(ctx context.Context, userID string) ([]*store.Workspace, error) {
	return m.cfg.Store.Workspaces(ctx, userID)
}

func notFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}

// PruneSessions ends the sessions of workspaces that no longer exist in the
// store: `codeterm workspace rm` and `codeterm user rm` run in their own
// process and cannot reach the server's shells.
func (m *Manager) PruneSessions(ctx context.Context) error {
	if m.cfg.Sessions == nil {
		return nil
	}
	for _, id := range m.cfg.Sessions.RunningWorkspaces() {
		_, err := m.cfg.Store.WorkspaceByID(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			m.log.Info("workspace deleted elsewhere; ending its sessions", "workspace", id)
			m.cfg.Sessions.KillWorkspace(id)
			m.stopWatch(id)
		case err != nil:
			return fmt.Errorf("prune sessions: %w", err)
		}
	}
	return nil
}

// WatchDeleted runs PruneSessions every interval until ctx ends.
func (m *Manager) WatchDeleted(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := m.PruneSessions(ctx); err != nil && ctx.Err() == nil {
			m.log.Warn("prune sessions", "err", err)
		}
	}
}

// Delete kills the workspace's sessions, stops its watchers, removes its
// directory and its row. The directory is first renamed aside so that a
// failure to delete the row can be undone and a half-deleted tree is never
// seen at the workspace's path.
func (m *Manager) Delete(ctx context.Context, userID, id string) error {
	return m.remove(ctx, userID, id, false)
}

// Forget is Delete that leaves the workspace's files where they are: the
// workspace is gone from codeterm, its checkout stays on disk.
func (m *Manager) Forget(ctx context.Context, userID, id string) error {
	return m.remove(ctx, userID, id, true)
}

func (m *Manager) remove(ctx context.Context, userID, id string, keepFiles bool) error {
	unlock := m.lock(id)
	defer unlock()
	ws, err := m.Get(ctx, userID, id)
	if err != nil {
		return fmt.Errorf("delete workspace: %w", err)
	}
	if m.cfg.Sessions != nil {
		m.cfg.Sessions.KillWorkspace(ws.ID)
	}
	m.stopWatch(ws.ID)
	if keepFiles {
		if err := m.cfg.Store.DeleteWorkspace(ctx, userID, ws.ID); err != nil {
			return fmt.Errorf("delete workspace %q: %w", ws.Name, notFound(err))
		}
		m.log.Info("workspace forgotten, files kept", "user", userID, "workspace", ws.ID, "name", ws.Name, "path", ws.LocalPath)
		return nil
	}

	dir, err := m.ownedPath(ws)
	if err != nil {
		return fmt.Errorf("delete workspace %q: %w", ws.Name, err)
	}
	trash := filepath.Join(filepath.Dir(dir), deletingPrefix+ws.ID)
	moved := true
	if err := os.Rename(dir, trash); err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("delete workspace %q: %w", ws.Name, err)
		}
		moved = false // already gone: just forget it
	}
	if err := m.cfg.Store.DeleteWorkspace(ctx, userID, ws.ID); err != nil {
		if moved {
			if rerr := os.Rename(trash, dir); rerr != nil {
				m.log.Error("restore workspace after failed delete", "workspace", ws.ID, "err", rerr)
			}
		}
		return fmt.Errorf("delete workspace %q: %w", ws.Name, notFound(err))
	}
	if moved {
		if err := os.RemoveAll(trash); err != nil {
			// The row is gone; New sweeps the rest on the next start.
			m.log.Warn("remove deleted workspace files", "path", trash, "err", err)
		}
	}
	m.log.Info("workspace deleted", "user", userID, "workspace", ws.ID, "name", ws.Name)
	return nil
}

// ownedPath refuses to act on a LocalPath outside Root: a damaged row must
// never turn Delete into rm -rf somewhere else.
func (m *Manager) ownedPath(ws *store.Workspace) (string, error) {
	p := filepath.Clean(ws.LocalPath)
	rel, err := filepath.Rel(m.cfg.Root, p)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") || !filepath.IsAbs(p) {
		return "", fmt.Errorf("path %s is outside the workspaces root %s", p, m.cfg.Root)
	}
	return p, nil
}

// lock serialises git operations (sync, delete) on one workspace.
func (m *Manager) lock(id string) (unlock func()) {
	m.mu.Lock()
	l := m.locks[id]
	if l == nil {
		l = &wsLock{}
		m.locks[id] = l
	}
	l.refs++
	m.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		m.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(m.locks, id)
		}
		m.mu.Unlock()
	}
}

// sweep removes what a crash in Create or Delete left under Root. A
// ".deleting-<id>" whose row still exists goes back to its place (the crash
// came before the row was deleted); every other one is garbage. Partial
// clones are only removed when old, since another process may be cloning.
func (m *Manager) sweep(ctx context.Context) {
	users, err := os.ReadDir(m.cfg.Root)
	if err != nil {
		return
	}
	var rows map[string]*store.Workspace
	for _, u := range users {
		if !u.IsDir() {
			continue
		}
		udir := filepath.Join(m.cfg.Root, u.Name())
		entries, err := os.ReadDir(udir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			p := filepath.Join(udir, e.Name())
			switch {
			case strings.HasPrefix(e.Name(), deletingPrefix):
				if rows == nil {
					rows = map[string]*store.Workspace{}
					all, err := m.cfg.Store.Workspaces(ctx, "")
					if err != nil {
						m.log.Warn("sweep workspaces", "err", err)
						return
					}
					for _, w := range all {
						rows[w.ID] = w
					}
				}
				if w := rows[strings.TrimPrefix(e.Name(), deletingPrefix)]; w != nil {
					if _, err := os.Lstat(w.LocalPath); errors.Is(err, os.ErrNotExist) {
						if err := os.Rename(p, w.LocalPath); err == nil {
							continue
						}
					}
				}
				m.removeStale(p)
			case strings.HasPrefix(e.Name(), partialPrefix):
				if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > staleAge {
					m.removeStale(p)
				}
			}
		}
	}
}

func (m *Manager) removeStale(p string) {
	if err := os.RemoveAll(p); err != nil {
		m.log.Warn("remove stale workspace directory", "path", p, "err", err)
	} else {
		m.log.Info("removed stale workspace directory", "path", p)
	}
}
