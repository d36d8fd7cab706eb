package workspaces

import (
	"bytes"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/osfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"

	"github.com/codeterm/codeterm/isolation"
)

// GitStatus is the git part of workspace-status.
//
// Modified counts tracked files whose worktree differs from the index,
// Staged files whose index differs from HEAD (a file can be both), and
// Untracked every untracked, not ignored file individually — git's
// --untracked-files=all, which is also how go-git reports them; git's
// default "normal" mode would count a new directory as one entry. Unmerged
// files count as modified. Ahead and Behind are commits relative to the
// branch's upstream (0 when there is none).
type GitStatus struct {
	Branch    string `json:"branch"`
	Ahead     int    `json:"ahead"`
	Behind    int    `json:"behind"`
	Modified  int    `json:"modified"`
	Staged    int    `json:"staged"`
	Untracked int    `json:"untracked"`
}

// detachedBranch is GitStatus.Branch when HEAD is not on a branch; it is
// what `git status --porcelain=v2` prints.
const detachedBranch = "(detached)"

// statusReport is a GitStatus plus the paths behind the counts, which pull
// needs to know what it must not overwrite.
type statusReport struct {
	GitStatus
	dirty map[string]bool
	// files says how each dirty path differs: FileStatuses' values.
	files map[string]string
}

// FileStatuses maps each path of the workspace that git sees as changed
// to "modified", "added" (new and staged), "deleted", "renamed",
// "untracked" or "conflict", for colouring a file tree. Clean paths are
// absent.
func (m *Manager) FileStatuses(ctx context.Context, userID, id string) (map[string]string, error) {
	ws, err := m.Get(ctx, userID, id)
	if err != nil {
		return nil, fmt.Errorf("file statuses: %w", err)
	}
	r, err := m.status(ctx, ws.LocalPath, userID)
	if err != nil {
		return nil, fmt.Errorf("file statuses of %q: %w", ws.Name, err)
	}
	return r.files, nil
}

// changeKind names a porcelain XY pair for FileStatuses.
func changeKind(x, y byte) string {
	switch {
	case x == 'R' || x == 'C':
		return "renamed"
	case x == 'A':
		return "added"
	case x == 'D' || y == 'D':
		return "deleted"
	}
	return "modified"
}

// Status reports the workspace's git status. It runs `git status` when a
// git binary is available (an order of magnitude faster than go-git on big
// trees; see BenchmarkStatus) and go-git otherwise.
func (m *Manager) Status(ctx context.Context, userID, id string) (GitStatus, error) {
	ws, err := m.Get(ctx, userID, id)
	if err != nil {
		return GitStatus{}, fmt.Errorf("status: %w", err)
	}
	r, err := m.status(ctx, ws.LocalPath, userID)
	if err != nil {
		return GitStatus{}, fmt.Errorf("status of %q: %w", ws.Name, err)
	}
	return r.GitStatus, nil
}

func (m *Manager) status(ctx context.Context, dir, userID string) (statusReport, error) {
	if _, err := os.Stat(dir); err != nil {
		return statusReport{}, err
	}
	if m.git != "" {
		// As the workspace's owner: git runs what a repository's config
		// names (core.fsmonitor and the like), and refuses another user's
		// repository anyway.
		acct, err := m.cfg.Accounts.ForUserID(ctx, userID)
		if err != nil {
			return statusReport{}, err
		}
		r, err := statusGit(ctx, m.git, dir, acct)
		if !errors.Is(err, exec.ErrNotFound) && !errors.Is(err, os.ErrNotExist) {
			return r, err
		}
		m.log.Warn("git binary unusable; status falls back to go-git", "git", m.git, "err", err)
	}
	return statusGoGit(ctx, dir)
}

// statusGit runs git status in porcelain v2. --no-optional-locks keeps it
// from rewriting the index, so it never fights a user's own git commands in
// a terminal for index.lock.
func statusGit(ctx context.Context, gitBin, dir string, acct *isolation.Account) (statusReport, error) {
	cmd := exec.CommandContext(ctx, gitBin, "--no-optional-locks", "-C", dir,
		"status", "--porcelain=v2", "--branch", "--untracked-files=all", "-z")
	cmd.Env = append(os.Environ(), "LC_ALL=C", "GIT_TERMINAL_PROMPT=0")
	if acct != nil {
		cmd.Env = []string{"HOME=" + acct.Home, "PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C", "GIT_TERMINAL_PROMPT=0"}
		acct.Apply(cmd)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return statusReport{}, fmt.Errorf("git status: %w: %s", err, strings.TrimSpace(stderr.String()))
		}
		return statusReport{}, fmt.Errorf("git status: %w", err)
	}
	return parsePorcelainV2(out)
}

// parsePorcelainV2 reads `git status --porcelain=v2 --branch -z` output.
func parsePorcelainV2(out []byte) (statusReport, error) {
	r := statusReport{dirty: map[string]bool{}, files: map[string]string{}}
	recs := strings.Split(string(out), "\x00")
	for i := 0; i < len(recs); i++ {
		rec := recs[i]
		if rec == "" {
			continue
		}
		bad := fmt.Errorf("git status: malformed porcelain v2 record %q", rec)
		switch rec[0] {
		case '#':
			if err := r.header(rec); err != nil {
				return r, err
			}
		case '1', '2':
			n := 9 // "1 XY sub mH mI mW hH hI path"
			if rec[0] == '2' {
				n = 10 // "2 XY sub mH mI mW hH hI Xscore path", then the original path as its own record
				i++
			}
			f := strings.SplitN(rec, " ", n)
			if len(f) != n || len(f[1]) != 2 {
				return r, bad
			}
			if f[1][0] != '.' {
				r.Staged++
			}
			if f[1][1] != '.' {
				r.Modified++
			}
			r.dirty[f[n-1]] = true
			r.files[f[n-1]] = changeKind(f[1][0], f[1][1])
		case 'u':
			f := strings.SplitN(rec, " ", 11) // "u XY sub m1 m2 m3 mW h1 h2 h3 path"
			if len(f) != 11 {
				return r, bad
			}
			r.Modified++
			r.dirty[f[10]] = true
			r.files[f[10]] = "conflict"
		case '?':
			if len(rec) < 3 {
				return r, bad
			}
			r.Untracked++
			r.dirty[rec[2:]] = true
			r.files[rec[2:]] = "untracked"
		case '!':
			// ignored file; only listed with --ignored
		default:
			return r, bad
		}
	}
	return r, nil
}

func (r *statusReport) header(rec string) error {
	f := strings.Fields(rec)
	if len(f) < 3 {
		return nil // a header we do not know; porcelain v2 may add some
	}
	switch f[1] {
	case "branch.head":
		r.Branch = f[2]
	case "branch.ab":
		if len(f) != 4 {
			return fmt.Errorf("git status: malformed %q", rec)
		}
		a, err1 := strconv.Atoi(strings.TrimPrefix(f[2], "+"))
		b, err2 := strconv.Atoi(strings.TrimPrefix(f[3], "-"))
		if err1 != nil || err2 != nil {
			return fmt.Errorf("git status: malformed %q", rec)
		}
		r.Ahead, r.Behind = a, b
	}
	return nil
}

// statusGoGit computes the same report with go-git. go-git only reads
// .gitignore files by itself; info/exclude and the user's global excludes
// file are added so both implementations ignore the same files.
func statusGoGit(ctx context.Context, dir string) (statusReport, error) {
	r := statusReport{dirty: map[string]bool{}, files: map[string]string{}}
	repo, err := git.PlainOpen(dir)
	if err != nil {
		return r, fmt.Errorf("open %s: %w", dir, err)
	}
	if r.Branch, err = headBranch(repo); err != nil {
		return r, err
	}
	wt, err := repo.Worktree()
	if err != nil {
		return r, err
	}
	wt.Excludes = append(wt.Excludes, readExcludes(filepath.Join(dir, ".git", "info", "exclude"))...)
	if global, err := gitignore.LoadGlobalPatterns(rootFS()); err == nil {
		wt.Excludes = append(wt.Excludes, global...)
	}
	st, err := wt.Status()
	if err != nil {
		return r, fmt.Errorf("go-git status: %w", err)
	}
	for p, fs := range st {
		switch {
		case fs.Worktree == git.Untracked:
			r.Untracked++
		default:
			if fs.Staging != git.Unmodified && fs.Staging != git.Untracked {
				r.Staged++
			}
			if fs.Worktree != git.Unmodified {
				r.Modified++
			}
		}
		if fs.Staging != git.Unmodified || fs.Worktree != git.Unmodified {
			r.dirty[p] = true
			if fs.Worktree == git.Untracked {
				r.files[p] = "untracked"
			} else {
				r.files[p] = changeKind(byte(fs.Staging), byte(fs.Worktree))
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return r, err
	}
	if r.Branch != detachedBranch {
		if local, up, ok := upstream(repo, r.Branch); ok {
			r.Ahead, r.Behind, err = aheadBehind(repo.Storer, local, up)
			if err != nil {
				return r, fmt.Errorf("ahead/behind: %w", err)
			}
		}
	}
	return r, nil
}

func readExcludes(file string) []gitignore.Pattern {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	var ps []gitignore.Pattern
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		ps = append(ps, gitignore.ParsePattern(line, nil))
	}
	return ps
}

// CurrentBranch names the branch checked out in the workspace at dir, for
// listings: the short commit id when HEAD is detached, "" when dir is not a
// readable repository. It reads HEAD only, so it is far cheaper than Status.
func CurrentBranch(dir string) string {
	repo, err := openBounded(dir) // a user's .git/HEAD may be a symlink to anything
	if err != nil {
		return ""
	}
	head, err := repo.Storer.Reference(plumbing.HEAD)
	if err != nil {
		return ""
	}
	if head.Type() == plumbing.SymbolicReference {
		return head.Target().Short()
	}
	return head.Hash().String()[:7]
}

// headBranch names the branch HEAD points at, even before its first commit
// (go-git's Head() fails on an unborn branch).
func headBranch(repo *git.Repository) (string, error) {
	head, err := repo.Storer.Reference(plumbing.HEAD)
	if err != nil {
		return "", fmt.Errorf("read HEAD: %w", err)
	}
	if head.Type() == plumbing.SymbolicReference && head.Target().IsBranch() {
		return head.Target().Short(), nil
	}
	return detachedBranch, nil
}

// upstream resolves branch's upstream like git does: branch.<b>.remote and
// branch.<b>.merge, mapped to the remote-tracking ref. ok is false when the
// branch has no upstream or either end does not exist yet.
func upstream(repo *git.Repository, branch string) (local, up plumbing.Hash, ok bool) {
	cfg, err := repo.Config()
	if err != nil {
		return
	}
	b := cfg.Branches[branch]
	if b == nil || b.Remote == "" || b.Merge == "" {
		return
	}
	upName := b.Merge
	if b.Remote != "." {
		upName = plumbing.NewRemoteReferenceName(b.Remote, b.Merge.Short())
		if rc := cfg.Remotes[b.Remote]; rc != nil {
			for _, spec := range rc.Fetch {
				if spec.Match(b.Merge) {
					upName = spec.Dst(b.Merge)
					break
				}
			}
		}
	}
	l, err := repo.Storer.Reference(plumbing.NewBranchReferenceName(branch))
	if err != nil {
		return
	}
	u, err := repo.Storer.Reference(upName)
	if err != nil {
		return
	}
	return l.Hash(), u.Hash(), true
}

// aheadBehind counts the commits reachable from a but not b (ahead) and
// from b but not a (behind). It walks both histories to the end: stopping
// once every queued commit is reachable from both sides (git's heuristic)
// miscounts when commits share a timestamp, as commits made in the same
// second do, because one side may then walk past the merge base before the
// other reaches it, and a common commit stays marked as one side's. It
// serves push and pull checks and the go-git status fallback (status
// normally comes from git itself), so exactness wins over cost here.
// Commits missing from a shallow clone end the walk on their side.
func aheadBehind(s storer.EncodedObjectStorer, a, b plumbing.Hash) (ahead, behind int, err error) {
	if a == b {
		return 0, 0, nil
	}
	const fromA, fromB = 1, 2
	flags := map[plumbing.Hash]uint8{}
	q := &commitQueue{}
	push := func(h plumbing.Hash, f uint8) error {
		old := flags[h]
		if old|f == old {
			return nil
		}
		flags[h] = old | f
		c, err := object.GetCommit(s, h)
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		heap.Push(q, c)
		return nil
	}
	if err := push(a, fromA); err != nil {
		return 0, 0, err
	}
	if err := push(b, fromB); err != nil {
		return 0, 0, err
	}
	for q.Len() > 0 {
		c := heap.Pop(q).(*object.Commit)
		f := flags[c.Hash]
		for _, p := range c.ParentHashes {
			if err := push(p, f); err != nil {
				return 0, 0, err
			}
		}
	}
	for _, f := range flags {
		switch f {
		case fromA:
			ahead++
		case fromB:
			behind++
		}
	}
	return ahead, behind, nil
}

// commitQueue is a max-heap on committer time. A commit can sit in it more
// than once (when a second side reaches it); the extra pops are harmless.
type commitQueue []*object.Commit

func (q commitQueue) Len() int { return len(q) }
func (q commitQueue) Less(i, j int) bool {
	return q[i].Committer.When.After(q[j].Committer.When)
}
func (q commitQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *commitQueue) Push(x any)   { *q = append(*q, x.(*object.Commit)) }
func (q *commitQueue) Pop() any {
	old := *q
	c := old[len(old)-1]
	*q = old[:len(old)-1]
	return c
}

// rootFS is the whole file system, where go-git looks for the user's global
// git configuration.
func rootFS() billy.Filesystem { return osfs.New("/") }
