package workspaces

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// syncFixture: a served repository, a CLI clone of it playing "another
// machine", and a cloned workspace.
func syncFixture(t *testing.T) (e *env, other string, wsID, dir string) {
	t.Helper()
	g := newGitServer(t)
	other = g.newRepo(t, "r", map[string]string{
		"keep.txt": "keep\n", "change.txt": "v1\n", "remove.txt": "bye\n", "sub/deep.txt": "deep\n",
	})
	e = newEnv(t)
	ws, err := e.m.Create(context.Background(), e.user, CreateOptions{Name: "r", RepoURL: g.url("r")})
	if err != nil {
		t.Fatal(err)
	}
	return e, other, ws.ID, ws.LocalPath
}

func wantCounts(t *testing.T, res SyncResult, op string, added, modified, deleted int) {
	t.Helper()
	want := SyncResult{Operation: op, Added: added, Modified: modified, Deleted: deleted, Success: true}
	if res != want {
		t.Errorf("%s = %+v, want %+v", op, res, want)
	}
}

func TestSyncFetchPullPush(t *testing.T) {
	e, other, id, dir := syncFixture(t)
	ctx := context.Background()

	res, err := e.m.Sync(ctx, e.user.ID, id, OpPull, Auth{})
	if err != nil {
		t.Fatal(err)
	}
	wantCounts(t, res, OpPull, 0, 0, 0)

	commitPush(t, other, map[string]string{
		"new1.txt": "n1\n", "sub/new2.txt": "n2\n", "change.txt": "v2\n", "remove.txt": "",
	}, "upstream work")

	res, err = e.m.Sync(ctx, e.user.ID, id, OpFetch, Auth{})
	if err != nil {
		t.Fatal(err)
	}
	wantCounts(t, res, OpFetch, 2, 1, 1)
	if readFile(t, filepath.Join(dir, "change.txt")) != "v1\n" {
		t.Fatal("fetch touched the worktree")
	}
	st, _ := e.m.Status(ctx, e.user.ID, id)
	if st.Behind != 1 || st.Ahead != 0 {
		t.Errorf("status after fetch = %+v", st)
	}

	// A local, uncommitted edit elsewhere survives the pull.
	writeFiles(t, dir, map[string]string{"keep.txt": "local edit\n"})
	res, err = e.m.Sync(ctx, e.user.ID, id, OpPull, Auth{})
	if err != nil {
		t.Fatal(err)
	}
	wantCounts(t, res, OpPull, 2, 1, 1)
	if readFile(t, filepath.Join(dir, "change.txt")) != "v2\n" || readFile(t, filepath.Join(dir, "sub", "new2.txt")) != "n2\n" {
		t.Error("pull did not update the worktree")
	}
	if _, err := os.Stat(filepath.Join(dir, "remove.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Error("pull did not delete remove.txt")
	}
	if readFile(t, filepath.Join(dir, "keep.txt")) != "local edit\n" {
		t.Error("pull lost a local edit")
	}
	if got, want := runGit(t, dir, "rev-parse", "HEAD"), runGit(t, other, "rev-parse", "HEAD"); got != want {
		t.Errorf("HEAD = %s, want %s", got, want)
	}
	// The index matches the new HEAD: only the local edit shows.
	if s := runGit(t, dir, "status", "--porcelain"); s != "M keep.txt" {
		t.Errorf("git status after pull:\n%s", s)
	}

	// Push a local commit; the other clone sees it.
	runGit(t, dir, "checkout", "--", "keep.txt")
	commit(t, dir, map[string]string{"mine.txt": "m\n", "change.txt": "v3\n"}, "local work")
	res, err = e.m.Sync(ctx, e.user.ID, id, OpPush, Auth{})
	if err != nil {
		t.Fatal(err)
	}
	wantCounts(t, res, OpPush, 1, 1, 0)
	runGit(t, other, "pull", "-q", "--ff-only")
	if readFile(t, filepath.Join(other, "mine.txt")) != "m\n" {
		t.Error("push did not reach the remote")
	}
	st, err = e.m.Status(ctx, e.user.ID, id)
	if err != nil || st.Ahead != 0 || st.Behind != 0 {
		t.Errorf("status after push = %+v, %v", st, err)
	}
	res, err = e.m.Sync(ctx, e.user.ID, id, OpPush, Auth{})
	if err != nil {
		t.Fatal(err)
	}
	wantCounts(t, res, OpPush, 0, 0, 0)
}

func TestPullDivergedRefused(t *testing.T) {
	e, other, id, dir := syncFixture(t)
	ctx := context.Background()
	commitPush(t, other, map[string]string{"change.txt": "theirs\n"}, "theirs")
	commit(t, dir, map[string]string{"change.txt": "ours\n"}, "ours")
	head := runGit(t, dir, "rev-parse", "HEAD")

	res, err := e.m.Sync(ctx, e.user.ID, id, OpPull, Auth{})
	if !errors.Is(err, ErrDiverged) || Code(err) != "GIT_DIVERGED" || res.Success {
		t.Fatalf("pull = %+v, %v", res, err)
	}
	if readFile(t, filepath.Join(dir, "change.txt")) != "ours\n" {
		t.Error("diverged pull overwrote the worktree")
	}
	if got := runGit(t, dir, "rev-parse", "HEAD"); got != head {
		t.Error("diverged pull moved HEAD")
	}
	if s := runGit(t, dir, "status", "--porcelain"); s != "" {
		t.Errorf("worktree dirty after refused pull:\n%s", s)
	}

	// Pushing the diverged branch is refused the same way.
	if _, err := e.m.Sync(ctx, e.user.ID, id, OpPush, Auth{}); !errors.Is(err, ErrDiverged) {
		t.Fatalf("push = %v", err)
	}
	// Monitoring counts both failures and no success.
	st := e.m.Stats()
	if st[OpPull].Failures != 1 || st[OpPush].Failures != 1 || st[OpPull].Duration.Count != 0 || st[OpClone].Duration.Count != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestPullRefusesToOverwriteLocalChanges(t *testing.T) {
	e, other, id, dir := syncFixture(t)
	ctx := context.Background()
	commitPush(t, other, map[string]string{"change.txt": "theirs\n", "fresh.txt": "theirs\n"}, "theirs")
	writeFiles(t, dir, map[string]string{"change.txt": "uncommitted\n"})

	_, err := e.m.Sync(ctx, e.user.ID, id, OpPull, Auth{})
	if !errors.Is(err, ErrSyncFailed) || Code(err) != "GIT_SYNC_FAILED" {
		t.Fatalf("pull = %v", err)
	}
	if readFile(t, filepath.Join(dir, "change.txt")) != "uncommitted\n" {
		t.Error("pull overwrote an uncommitted change")
	}
	if _, err := os.Stat(filepath.Join(dir, "fresh.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Error("refused pull still wrote files")
	}

	// An untracked file in the way counts too.
	writeFiles(t, dir, map[string]string{"change.txt": "v1\n", "fresh.txt": "mine\n"})
	if _, err := e.m.Sync(ctx, e.user.ID, id, OpPull, Auth{}); !errors.Is(err, ErrSyncFailed) {
		t.Fatalf("pull over untracked = %v", err)
	}
	if readFile(t, filepath.Join(dir, "fresh.txt")) != "mine\n" {
		t.Error("pull overwrote an untracked file")
	}
}

func TestSyncErrors(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ws, err := e.m.Create(ctx, e.user, CreateOptions{Name: "empty"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Sync(ctx, e.user.ID, ws.ID, OpPull, Auth{}); !errors.Is(err, ErrSyncFailed) {
		t.Errorf("pull without remote = %v", err)
	}
	if _, err := e.m.Sync(ctx, e.user.ID, ws.ID, "merge", Auth{}); !errors.Is(err, ErrSyncFailed) {
		t.Errorf("unknown op = %v", err)
	}
	if _, err := e.m.Sync(ctx, e.user.ID, "nope", OpFetch, Auth{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown workspace = %v", err)
	}
	// A remote switched to a local path in a terminal is not followed.
	runGit(t, ws.LocalPath, "remote", "add", "origin", "/etc")
	if _, err := e.m.Sync(ctx, e.user.ID, ws.ID, OpFetch, Auth{}); !errors.Is(err, ErrInvalidURL) {
		t.Errorf("fetch from local path = %v", err)
	}
}
