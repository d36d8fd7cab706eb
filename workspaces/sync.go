package workspaces

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/index"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/go-git/go-git/v5/utils/merkletrie"
)

// Sync operations.
const (
	OpPull  = "pull"
	OpFetch = "fetch"
	OpPush  = "push"
)

// SyncResult is the payload of workspace-synced. The counts are files the
// operation changed: for pull the difference between the old and the new
// HEAD, for fetch between the old and new remote-tracking branch, for push
// between the remote branch before and after. A rename counts as one
// deletion and one addition.
type SyncResult struct {
	Operation string `json:"operation"`
	Added     int    `json:"added"`
	Modified  int    `json:"modified"`
	Deleted   int    `json:"deleted"`
	Success   bool   `json:"success"`
}

// Sync runs a pull, fetch or push of the workspace's current branch against
// its upstream (origin/<branch> when none is configured).
//
// Pull only fast-forwards: a branch that has diverged from its upstream
// fails with ErrDiverged, and a pull that would overwrite local changes
// fails with ErrSyncFailed; in both cases no file, index entry or ref is
// touched. A push the remote would have to force is ErrDiverged too. Other
// failures wrap ErrSyncFailed (or ErrNotFound, ErrCancelled).
func (m *Manager) Sync(ctx context.Context, userID, id, op string, auth Auth) (SyncResult, error) {
	start := time.Now()
	res, err := m.sync(ctx, userID, id, op, auth)
	m.ops.observe(ctx, op, start, err)
	return res, err
}

func (m *Manager) sync(ctx context.Context, userID, id, op string, auth Auth) (SyncResult, error) {
	res := SyncResult{Operation: op}
	if op != OpPull && op != OpFetch && op != OpPush {
		return res, fmt.Errorf("sync: %w: unknown operation %q (want pull, fetch or push)", ErrSyncFailed, op)
	}
	unlock := m.lock(id)
	defer unlock()
	ws, err := m.Get(ctx, userID, id)
	if err != nil {
		return res, fmt.Errorf("%s: %w", op, err)
	}
	acct, err := m.cfg.Accounts.ForUserID(ctx, userID)
	if err != nil {
		return res, fmt.Errorf("%s %q: %w", op, ws.Name, err)
	}
	s, err := m.openSync(ctx, ws.LocalPath, auth, acct != nil)
	if err != nil {
		return res, fmt.Errorf("%s %q: %w: %w", op, ws.Name, ErrSyncFailed, err)
	}
	s.userID = userID
	// go-git writes as the server: what it created, whether the sync
	// succeeded or not, belongs to the user.
	defer func() {
		if err := acct.ReclaimTree(ws.LocalPath); err != nil {
			m.log.Warn("workspace sync: give files to the user", "workspace", ws.ID, "err", err)
		}
	}()
	var ch changeCounts
	switch op {
	case OpFetch:
		ch, err = s.fetchOp(ctx)
	case OpPull:
		ch, err = m.pull(ctx, s)
	case OpPush:
		ch, err = s.push(ctx)
	}
	if err != nil {
		switch {
		case ctx.Err() != nil:
			err = fmt.Errorf("%w: %w", ErrCancelled, ctx.Err())
		case !errors.Is(err, ErrDiverged) && !errors.Is(err, ErrSyncFailed):
			err = fmt.Errorf("%w: %w", ErrSyncFailed, remoteSummary(err))
		}
		m.log.Warn("workspace sync failed", "workspace", ws.ID, "op", op, "remote", s.remote.clean, "err", err)
		return res, fmt.Errorf("%s %q (%s): %w", op, ws.Name, s.remote.clean, err)
	}
	res.Added, res.Modified, res.Deleted, res.Success = ch.added, ch.modified, ch.deleted, true
	if err := m.cfg.Store.TouchWorkspace(ctx, ws.ID, time.Now()); err != nil {
		m.log.Warn("touch workspace", "workspace", ws.ID, "err", err)
	}
	m.log.Info("workspace synced", "workspace", ws.ID, "op", op, "added", ch.added, "modified", ch.modified, "deleted", ch.deleted)
	return res, nil
}

// syncer is one open repository with the remote and branch a sync works on.
type syncer struct {
	userID     string // the workspace's owner
	dir        string
	repo       *git.Repository
	auth       transport.AuthMethod
	proxy      transport.ProxyOptions // see Manager.proxyFor
	remoteName string
	remote     remote
	branch     string                 // local branch, short name
	merge      plumbing.ReferenceName // the branch on the remote
	tracking   plumbing.ReferenceName // its remote-tracking ref here
}

// openBounded opens the repository in dir with every path of it resolved
// inside dir: a symlink planted in the worktree or in .git never leads
// outside (to a file only the server may read or write).
func openBounded(dir string) (*git.Repository, error) {
	wt := osfs.New(dir, osfs.WithBoundOS())
	dot, err := wt.Chroot(git.GitDirName)
	if err != nil {
		return nil, err
	}
	return git.Open(filesystem.NewStorage(dot, cache.NewObjectLRUDefault()), wt)
}

// openSync opens the repository in dir for a sync. bounded (a workspace
// of another OS account than the server's) resolves every path of the
// repository inside it, so that a symlink its owner planted in .git cannot
// lead the server's writes elsewhere.
func (m *Manager) openSync(ctx context.Context, dir string, a Auth, bounded bool) (*syncer, error) {
	var repo *git.Repository
	var err error
	if bounded {
		repo, err = openBounded(dir)
	} else {
		repo, err = git.PlainOpen(dir)
	}
	if err != nil {
		return nil, fmt.Errorf("open repository: %w", err)
	}
	s := &syncer{dir: dir, repo: repo, remoteName: git.DefaultRemoteName}
	if s.branch, err = headBranch(repo); err != nil {
		return nil, err
	}
	if s.branch == detachedBranch {
		return nil, errors.New("HEAD is detached; check out a branch first")
	}
	cfg, err := repo.Config()
	if err != nil {
		return nil, err
	}
	s.merge = plumbing.NewBranchReferenceName(s.branch)
	if b := cfg.Branches[s.branch]; b != nil && b.Remote != "" && b.Remote != "." {
		s.remoteName = b.Remote
		if b.Merge != "" {
			s.merge = b.Merge
		}
	}
	rc := cfg.Remotes[s.remoteName]
	if rc == nil || len(rc.URLs) == 0 {
		return nil, fmt.Errorf("no remote %q configured", s.remoteName)
	}
	// The URL may have been edited in a terminal since the clone: hold it to
	// the same rules as a new clone, so the web UI cannot be used to read
	// file:// or local repositories.
	if s.remote, err = parseRemote(rc.URLs[0]); err != nil {
		return nil, err
	}
	if s.remote.target, err = m.checkHost(ctx, s.remote); err != nil {
		return nil, err
	}
	if s.proxy, err = m.proxyFor(s.remote); err != nil {
		return nil, err
	}
	if s.auth, err = m.authFor(s.remote, a); err != nil {
		return nil, err
	}
	s.tracking = plumbing.NewRemoteReferenceName(s.remoteName, s.merge.Short())
	for _, spec := range rc.Fetch {
		if spec.Match(s.merge) {
			s.tracking = spec.Dst(s.merge)
			break
		}
	}
	return s, nil
}

func (s *syncer) refHash(name plumbing.ReferenceName) plumbing.Hash {
	ref, err := s.repo.Reference(name, true)
	if err != nil {
		return plumbing.ZeroHash
	}
	return ref.Hash()
}

func (s *syncer) fetch(ctx context.Context) error {
	err := s.repo.FetchContext(ctx, &git.FetchOptions{RemoteName: s.remoteName, Auth: s.auth, ProxyOptions: s.proxy})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return fmt.Errorf("fetch: %w", err)
	}
	return nil
}

func (s *syncer) fetchOp(ctx context.Context) (changeCounts, error) {
	before := s.refHash(s.tracking)
	if err := s.fetch(ctx); err != nil {
		return changeCounts{}, err
	}
	return diffCommits(ctx, s.repo, before, s.refHash(s.tracking))
}

func (m *Manager) pull(ctx context.Context, s *syncer) (changeCounts, error) {
	if err := s.fetch(ctx); err != nil {
		return changeCounts{}, err
	}
	local := s.refHash(plumbing.NewBranchReferenceName(s.branch))
	up := s.refHash(s.tracking)
	if up.IsZero() {
		return changeCounts{}, fmt.Errorf("%w: remote branch %s does not exist", ErrSyncFailed, s.merge.Short())
	}
	if local == up {
		return changeCounts{}, nil
	}
	if !local.IsZero() {
		ahead, behind, err := aheadBehind(s.repo.Storer, local, up)
		if err != nil {
			return changeCounts{}, err
		}
		if behind == 0 {
			return changeCounts{}, nil // only local commits: nothing to pull
		}
		if ahead > 0 {
			return changeCounts{}, fmt.Errorf("%w: %s is %d commits ahead of and %d behind %s; merge or rebase in a terminal",
				ErrDiverged, s.branch, ahead, behind, s.tracking.Short())
		}
	}
	changes, err := treeChanges(ctx, s.repo, local, up)
	if err != nil {
		return changeCounts{}, err
	}
	st, err := m.status(ctx, s.dir, s.userID)
	if err != nil {
		return changeCounts{}, err
	}
	if clash := overlapping(changes, st.dirty); len(clash) > 0 {
		if len(clash) > 5 {
			clash = append(clash[:5], "...")
		}
		return changeCounts{}, fmt.Errorf("%w: local changes to %s would be overwritten; commit or stash them first",
			ErrSyncFailed, strings.Join(clash, ", "))
	}
	if err := applyChanges(s.repo, s.dir, changes); err != nil {
		return changeCounts{}, fmt.Errorf("update worktree: %w", err)
	}
	if err := s.repo.Storer.SetReference(plumbing.NewHashReference(plumbing.NewBranchReferenceName(s.branch), up)); err != nil {
		return changeCounts{}, fmt.Errorf("update %s: %w", s.branch, err)
	}
	return count(changes), nil
}

func (s *syncer) push(ctx context.Context) (changeCounts, error) {
	local := s.refHash(plumbing.NewBranchReferenceName(s.branch))
	if local.IsZero() {
		return changeCounts{}, fmt.Errorf("%w: branch %s has no commits to push", ErrSyncFailed, s.branch)
	}
	rem, err := s.repo.Remote(s.remoteName)
	if err != nil {
		return changeCounts{}, err
	}
	before := plumbing.ZeroHash
	refs, err := rem.ListContext(ctx, &git.ListOptions{Auth: s.auth, ProxyOptions: s.proxy})
	if err != nil && !errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return changeCounts{}, fmt.Errorf("list remote: %w", err)
	}
	for _, r := range refs {
		if r.Name() == s.merge {
			before = r.Hash()
		}
	}
	if before == local {
		return changeCounts{}, nil
	}
	if !before.IsZero() {
		_, behind, err := aheadBehind(s.repo.Storer, local, before)
		if _, cerr := s.repo.CommitObject(before); cerr != nil || (err == nil && behind > 0) {
			return changeCounts{}, fmt.Errorf("%w: %s/%s has commits that the local %s lacks; pull first",
				ErrDiverged, s.remoteName, s.merge.Short(), s.branch)
		}
		if err != nil {
			return changeCounts{}, err
		}
	}
	spec := config.RefSpec(plumbing.NewBranchReferenceName(s.branch).String() + ":" + s.merge.String())
	err = s.repo.PushContext(ctx, &git.PushOptions{RemoteName: s.remoteName, Auth: s.auth, ProxyOptions: s.proxy, RefSpecs: []config.RefSpec{spec}})
	switch {
	case errors.Is(err, git.NoErrAlreadyUpToDate):
		return changeCounts{}, nil
	case err != nil && strings.Contains(err.Error(), "non-fast-forward"):
		return changeCounts{}, fmt.Errorf("%w: %w", ErrDiverged, err)
	case err != nil:
		return changeCounts{}, fmt.Errorf("push: %w", err)
	}
	return diffCommits(ctx, s.repo, before, local)
}

type changeCounts struct{ added, modified, deleted int }

func count(changes object.Changes) changeCounts {
	var c changeCounts
	for _, ch := range changes {
		a, err := ch.Action()
		if err != nil {
			continue
		}
		switch a {
		case merkletrie.Insert:
			c.added++
		case merkletrie.Modify:
			c.modified++
		case merkletrie.Delete:
			c.deleted++
		}
	}
	return c
}

func diffCommits(ctx context.Context, repo *git.Repository, from, to plumbing.Hash) (changeCounts, error) {
	if from == to {
		return changeCounts{}, nil
	}
	changes, err := treeChanges(ctx, repo, from, to)
	if err != nil {
		return changeCounts{}, err
	}
	return count(changes), nil
}

// treeChanges diffs the trees of two commits; the zero hash stands for the
// empty tree (a branch that did not exist).
func treeChanges(ctx context.Context, repo *git.Repository, from, to plumbing.Hash) (object.Changes, error) {
	a, err := commitTree(repo, from)
	if err != nil {
		return nil, err
	}
	b, err := commitTree(repo, to)
	if err != nil {
		return nil, err
	}
	return object.DiffTreeWithOptions(ctx, a, b, nil)
}

func commitTree(repo *git.Repository, h plumbing.Hash) (*object.Tree, error) {
	if h.IsZero() {
		return &object.Tree{}, nil
	}
	c, err := repo.CommitObject(h)
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", h, err)
	}
	return c.Tree()
}

// overlapping lists the paths a pull would write that hold local changes:
// the same path, a changed file inside a directory that becomes a file, or
// a local file where the pull needs a directory.
func overlapping(changes object.Changes, dirty map[string]bool) []string {
	if len(dirty) == 0 {
		return nil
	}
	dirtyDirs := map[string]bool{}
	for p := range dirty {
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			dirtyDirs[d] = true
		}
	}
	var out []string
	for _, ch := range changes {
		p := ch.To.Name
		if p == "" {
			p = ch.From.Name
		}
		hit := dirty[p] || dirtyDirs[p]
		for d := path.Dir(p); d != "." && !hit; d = path.Dir(d) {
			hit = dirty[d]
		}
		if hit {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// applyChanges brings the worktree and index from one commit's tree to a
// descendant's, touching only the paths that differ, so local changes
// elsewhere survive (what `git merge --ff-only` does). go-git's own Pull
// refuses whenever the worktree has any unstaged change, however unrelated.
// Deletions go first so that a file can become a directory.
func applyChanges(repo *git.Repository, dir string, changes object.Changes) error {
	// Every path is resolved inside dir: a symlink in the worktree (the
	// user's, who may have planted one) never leads a write outside it.
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	idx, err := repo.Storer.Index()
	if err != nil {
		return err
	}
	sorted := append(object.Changes(nil), changes...)
	sort.SliceStable(sorted, func(i, j int) bool {
		ai, _ := sorted[i].Action()
		aj, _ := sorted[j].Action()
		return ai == merkletrie.Delete && aj != merkletrie.Delete
	})
	for _, ch := range sorted {
		a, err := ch.Action()
		if err != nil {
			return err
		}
		if a == merkletrie.Delete {
			name := ch.From.Name
			if err := root.Remove(filepath.FromSlash(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			removeEmptyParents(root, name)
			if _, err := idx.Remove(name); err != nil && !errors.Is(err, index.ErrEntryNotFound) {
				return err
			}
			continue
		}
		name, te := ch.To.Name, ch.To.TreeEntry
		if err := checkoutEntry(repo, root, name, te); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		e, err := idx.Entry(name)
		if err != nil {
			e = idx.Add(name)
		}
		e.Hash, e.Mode = te.Hash, te.Mode
		if fi, err := root.Lstat(filepath.FromSlash(name)); err == nil && te.Mode != filemode.Submodule {
			// Matching stat data lets git trust the entry without rehashing.
			e.ModifiedAt, e.Size = fi.ModTime(), uint32(fi.Size())
			fillStat(e, fi)
		}
	}
	return repo.Storer.SetIndex(idx)
}

func checkoutEntry(repo *git.Repository, root *os.Root, name string, te object.TreeEntry) error {
	p := filepath.FromSlash(name)
	if err := root.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if te.Mode == filemode.Submodule {
		return root.MkdirAll(p, 0o755)
	}
	blob, err := repo.BlobObject(te.Hash)
	if err != nil {
		return err
	}
	r, err := blob.Reader()
	if err != nil {
		return err
	}
	defer r.Close()
	if te.Mode == filemode.Symlink {
		target, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		if err := root.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return root.Symlink(string(target), p)
	}
	perm := os.FileMode(0o644)
	if te.Mode == filemode.Executable {
		perm = 0o755
	}
	// Write beside and rename, so an editor or a crash never sees half a file.
	tmp := filepath.Join(filepath.Dir(p), ".codeterm-pull-"+rand.Text())
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Chmod(tmp, perm)
	}
	if err == nil {
		err = root.Rename(tmp, p)
	}
	if err != nil {
		root.Remove(tmp)
	}
	return err
}

func removeEmptyParents(root *os.Root, name string) {
	for d := path.Dir(name); d != "."; d = path.Dir(d) {
		if root.Remove(filepath.FromSlash(d)) != nil {
			return // not empty (or gone): stop
		}
	}
}
