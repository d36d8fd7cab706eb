package workspaces

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/codeterm/codeterm/store"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// DefaultBranch is the branch of a new empty workspace.
const DefaultBranch = "main"

// CreateOptions describes a new workspace.
type CreateOptions struct {
	// Name is the workspace name (see ValidateName).
	Name string
	// RepoURL is cloned when set: https://, http://, ssh:// or scp-like
	// (git@host:owner/repo.git). Credentials in it are used for this clone
	// only and never stored. Empty creates an empty repository.
	RepoURL string
	// Branch to check out; "" means the remote's default branch (for an empty
	// workspace, DefaultBranch).
	Branch string
	// Depth > 0 makes a shallow, single-branch clone of that many commits.
	Depth int
	// Auth authenticates the clone when the URL carries no credentials.
	Auth Auth
	// Progress, if set, receives workspace-progress updates.
	Progress ProgressFunc
	// CredentialHelper, if set, is written into an http(s) clone's
	// .git/config as the only credential helper for the remote's origin, so
	// that git in the user's shell asks it rather than a stored secret (the
	// GitHub token is never written to the checkout).
	CredentialHelper string
}

// Create makes a workspace for user: an empty git repository, or a clone of
// opts.RepoURL. It returns the stored workspace.
//
// Nothing is written before the name and URL are validated, and a failed or
// cancelled Create leaves no directory and no row: the clone goes into a
// private directory next to the target that is renamed into place only when
// it is complete. Cancel it through ctx or with Cancel(user.ID, opts.Name).
//
// http(s) remotes are cloned with the git binary when there is one (see
// Config.GitBinary), whose progress covers the download; ssh remotes, and
// every remote without a git binary, with go-git.
//
// Errors wrap ErrInvalidName, ErrInvalidURL, ErrExists, ErrCloneFailed or
// ErrCancelled.
func (m *Manager) Create(ctx context.Context, user *store.User, opts CreateOptions) (*store.Workspace, error) {
	start := time.Now()
	target, err := m.Path(user, opts.Name)
	if err != nil {
		return nil, err
	}
	var rem remote
	if opts.RepoURL != "" {
		if rem, err = parseRemote(opts.RepoURL); err != nil {
			return nil, err
		}
	}
	what := "workspace " + opts.Name
	if rem.clean != "" {
		what = "clone " + rem.clean
	}
	if opts.Depth < 0 {
		return nil, fmt.Errorf("%s: %w: negative depth %d", what, ErrCloneFailed, opts.Depth)
	}
	if opts.Branch != "" {
		if err := plumbing.NewBranchReferenceName(opts.Branch).Validate(); err != nil {
			return nil, fmt.Errorf("%s: %w: branch %q: %w", what, ErrCloneFailed, opts.Branch, err)
		}
	}
	if rem.clean != "" {
		if rem.target, err = m.checkHost(ctx, rem); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
	}
	auth, err := m.authFor(rem, opts.Auth)
	if rem.clean != "" && err != nil {
		return nil, fmt.Errorf("%s: %w: %w", what, ErrCloneFailed, err)
	}

	if _, err := m.cfg.Store.WorkspaceByName(ctx, user.ID, opts.Name); err == nil {
		return nil, fmt.Errorf("%w: %q", ErrExists, opts.Name)
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if _, err := os.Lstat(target); err == nil {
		return nil, fmt.Errorf("%w: %q (directory %s exists without a workspace record)", ErrExists, opts.Name, target)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	key := cloneKey{user.ID, opts.Name}
	m.mu.Lock()
	if _, busy := m.clones[key]; busy {
		m.mu.Unlock()
		return nil, fmt.Errorf("%w: %q is being created", ErrExists, opts.Name)
	}
	m.clones[key] = cancel
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.clones, key)
		m.mu.Unlock()
	}()

	acct, err := m.cfg.Accounts.For(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := m.prepareUserDir(filepath.Dir(target), acct); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(target), partialPrefix+opts.Name+"-")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	done := false
	defer func() {
		if !done {
			if err := os.RemoveAll(tmp); err != nil {
				m.log.Error("remove partial workspace", "path", tmp, "err", err)
			}
		}
	}()

	tr := newProgressTracker(opts.Progress)
	var branch string
	if rem.clean == "" {
		branch, err = initEmpty(tmp, opts.Branch)
	} else {
		tr.report(StepCloning, 0, "Cloning "+rem.clean)
		start := time.Now()
		branch, err = m.clone(ctx, tmp, rem, opts, auth, tr)
		m.ops.observe(ctx, OpClone, start, err)
		if err == nil && opts.CredentialHelper != "" && !rem.ssh {
			err = setCredentialHelper(tmp, rem.clean, opts.CredentialHelper)
		}
	}
	if err == nil {
		tr.report(StepConfiguring, configuringPercent, "Configuring workspace")
		err = ctx.Err() // a cancel that raced the end of the transfer still wins
	}
	if err != nil {
		if ctx.Err() != nil {
			m.log.Info("workspace creation cancelled", "user", user.Name, "name", opts.Name, "repo", rem.clean)
			return nil, fmt.Errorf("%s: %w: %w", what, ErrCancelled, ctx.Err())
		}
		m.log.Warn("workspace creation failed", "user", user.Name, "name", opts.Name, "repo", rem.clean, "err", err)
		if rem.clean == "" {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		return nil, fmt.Errorf("%s: %w: %w", what, ErrCloneFailed, err)
	}

	if err := acct.GiveTree(tmp); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := os.Rename(tmp, target); err != nil {
		// Another process finished the same name first.
		return nil, fmt.Errorf("%w: %q: %w", ErrExists, opts.Name, err)
	}
	ws := &store.Workspace{
		UserID:    user.ID,
		Name:      opts.Name,
		RepoURL:   rem.clean,
		Branch:    branch,
		LocalPath: target,
	}
	if err := m.cfg.Store.CreateWorkspace(ctx, ws); err != nil {
		if rerr := os.RemoveAll(target); rerr != nil {
			m.log.Error("remove workspace after failed insert", "path", target, "err", rerr)
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: %w: %w", what, ErrCancelled, ctx.Err())
		}
		if errors.Is(err, store.ErrExists) {
			return nil, fmt.Errorf("%w: %q", ErrExists, opts.Name)
		}
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	done = true
	tr.report(StepCompleted, 100, "Workspace ready")
	m.log.Info("workspace created", "user", user.Name, "name", ws.Name, "id", ws.ID,
		"repo", ws.RepoURL, "branch", branch, "elapsed", time.Since(start).Round(time.Millisecond))
	return ws, nil
}

// Cancel aborts the Create of the user's workspace name if one is in
// flight, reporting whether there was one. Create then returns ErrCancelled
// and leaves nothing behind.
func (m *Manager) Cancel(userID, name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	cancel, ok := m.clones[cloneKey{userID, name}]
	if ok {
		cancel()
	}
	return ok
}

func initEmpty(dir, branch string) (string, error) {
	if branch == "" {
		branch = DefaultBranch
	}
	_, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName(branch)},
	})
	if err != nil {
		return "", fmt.Errorf("git init: %w", err)
	}
	return branch, nil
}

// clone fetches rem into dir: with the git binary when there is one and
// the remote is http(s) (see cloneGit), else with go-git.
func (m *Manager) clone(ctx context.Context, dir string, rem remote, opts CreateOptions, auth transport.AuthMethod, tr *progressTracker) (string, error) {
	if m.useGitBinary(rem) {
		branch, fallback, err := m.cloneGit(ctx, dir, rem, opts, auth, tr)
		if !fallback {
			return branch, err
		}
	}
	proxy, err := m.proxyFor(rem)
	if err != nil {
		return "", err
	}
	return cloneGoGit(ctx, dir, rem, opts, auth, proxy, tr)
}

// cloneGoGit fetches into dir with go-git. The URL handed to go-git is
// already free of credentials (they travel in auth), so .git/config never
// sees them; the remote is still rewritten afterwards so that this holds
// whatever go-git does with the URL in future versions.
//
// go-git relays only the server's progress (counting, compressing): the
// bar does not move while the pack downloads.
func cloneGoGit(ctx context.Context, dir string, rem remote, opts CreateOptions, auth transport.AuthMethod, proxy transport.ProxyOptions, tr *progressTracker) (string, error) {
	co := &git.CloneOptions{
		URL:          rem.clean,
		Auth:         auth,
		ProxyOptions: proxy,
		Depth:        opts.Depth,
		SingleBranch: opts.Depth > 0,
		Progress:     tr,
	}
	if opts.Branch != "" {
		co.ReferenceName = plumbing.NewBranchReferenceName(opts.Branch)
	}
	repo, err := git.PlainCloneContext(ctx, dir, false, co)
	if err != nil {
		return "", remoteSummary(err)
	}
	return finishRepo(repo, rem)
}

// finishClone is finishRepo for a clone made by the git binary. go-git
// refuses an empty remote, a remote whose HEAD names a missing branch and a
// Branch that is not a branch, where git clone makes a repository with
// nothing checked out, or checks out the tag of that name detached; these
// are refused here too, so both ways behave alike.
func finishClone(dir string, rem remote, opts CreateOptions) (string, error) {
	repo, err := git.PlainOpen(dir)
	if err != nil {
		return "", fmt.Errorf("open clone: %w", err)
	}
	if _, err := repo.Head(); err != nil {
		refs, rerr := repo.References()
		if rerr != nil {
			return "", fmt.Errorf("read references: %w", rerr)
		}
		n := 0
		refs.ForEach(func(r *plumbing.Reference) error {
			if r.Name() != plumbing.HEAD {
				n++
			}
			return nil
		})
		if n == 0 {
			return "", transport.ErrEmptyRemoteRepository
		}
		return "", fmt.Errorf("nothing to check out: the remote's HEAD names no branch (%w); choose a branch", err)
	}
	branch, err := finishRepo(repo, rem)
	if err == nil && opts.Branch != "" && branch != opts.Branch {
		return "", fmt.Errorf("remote branch %q not found", opts.Branch)
	}
	return branch, err
}

// finishRepo points origin at the URL without credentials and returns the
// branch HEAD is on ("" when detached).
func finishRepo(repo *git.Repository, rem remote) (string, error) {
	cfg, err := repo.Config()
	if err != nil {
		return "", err
	}
	if rc := cfg.Remotes[git.DefaultRemoteName]; rc != nil && (len(rc.URLs) != 1 || rc.URLs[0] != rem.clean) {
		rc.URLs = []string{rem.clean}
		if err := repo.SetConfig(cfg); err != nil {
			return "", fmt.Errorf("write remote config: %w", err)
		}
	}
	head, err := repo.Storer.Reference(plumbing.HEAD)
	if err != nil {
		return "", fmt.Errorf("read HEAD: %w", err)
	}
	if head.Type() == plumbing.SymbolicReference {
		return head.Target().Short(), nil
	}
	return "", nil // detached: the remote's HEAD was not a branch
}
