package workspaces

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestParsePorcelainV2(t *testing.T) {
	out := "# branch.oid 1234567890abcdef1234567890abcdef12345678\x00" +
		"# branch.head feature/x\x00" +
		"# branch.upstream origin/feature/x\x00" +
		"# branch.ab +3 -2\x00" +
		"1 .M N... 100644 100644 100644 aaaa aaaa modified only.txt\x00" +
		"1 M. N... 100644 100644 100644 aaaa bbbb staged only.txt\x00" +
		"1 MM N... 100644 100644 100644 aaaa bbbb both.txt\x00" +
		"1 A. N... 000000 100644 100644 0000 bbbb with space.txt\x00" +
		"1 .D N... 100644 100644 000000 aaaa aaaa gone.txt\x00" +
		"2 R. N... 100644 100644 100644 aaaa aaaa R100 new name.txt\x00old name.txt\x00" +
		"u UU N... 100644 100644 100644 100644 aaaa bbbb cccc conflict.txt\x00" +
		"? untracked.txt\x00" +
		"? dir/also untracked\x00"
	r, err := parsePorcelainV2([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	want := GitStatus{Branch: "feature/x", Ahead: 3, Behind: 2, Modified: 4, Staged: 4, Untracked: 2}
	if r.GitStatus != want {
		t.Errorf("got %+v\nwant %+v", r.GitStatus, want)
	}
	for _, p := range []string{"both.txt", "with space.txt", "new name.txt", "conflict.txt", "dir/also untracked"} {
		if !r.dirty[p] {
			t.Errorf("%q not in dirty set %v", p, r.dirty)
		}
	}
	if r.dirty["old name.txt"] {
		t.Error("rename source parsed as an entry")
	}
	wantFiles := map[string]string{"modified only.txt": "modified", "staged only.txt": "modified", "both.txt": "modified", "with space.txt": "added",
		"gone.txt": "deleted", "new name.txt": "renamed", "conflict.txt": "conflict", "untracked.txt": "untracked"}
	for p, k := range wantFiles {
		if r.files[p] != k {
			t.Errorf("files[%q] = %q, want %q", p, r.files[p], k)
		}
	}

	r, err = parsePorcelainV2([]byte("# branch.oid (initial)\x00# branch.head (detached)\x00"))
	if err != nil || r.GitStatus != (GitStatus{Branch: "(detached)"}) {
		t.Errorf("detached: %+v %v", r.GitStatus, err)
	}
	if _, err := parsePorcelainV2([]byte("1 M\x00")); err == nil {
		t.Error("malformed record accepted")
	}
}

func TestStatusImplementationsAgree(t *testing.T) {
	e, other, id, dir := syncFixture(t)
	ctx := context.Background()
	gitPath := gitBin(t)

	check := func(name string, want GitStatus) {
		t.Helper()
		a, err := statusGit(ctx, gitPath, dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := statusGoGit(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		if a.GitStatus != want || b.GitStatus != want {
			t.Errorf("%s:\n git binary %+v\n go-git     %+v\n want       %+v", name, a.GitStatus, b.GitStatus, want)
		}
		if len(a.dirty) != len(b.dirty) {
			t.Errorf("%s: dirty sets differ: %v vs %v", name, a.dirty, b.dirty)
		}
		if fmt.Sprint(a.files) != fmt.Sprint(b.files) {
			t.Errorf("%s: file statuses differ:\n git binary %v\n go-git     %v", name, a.files, b.files)
		}
		got, err := e.m.Status(ctx, e.user.ID, id)
		if err != nil || got != want {
			t.Errorf("%s: Manager.Status = %+v, %v", name, got, err)
		}
	}
	check("clean", GitStatus{Branch: "main"})

	// One commit behind, one ahead.
	commitPush(t, other, map[string]string{"upstream.txt": "u\n"}, "upstream")
	runGit(t, dir, "fetch", "-q")
	commit(t, dir, map[string]string{"local.txt": "l\n"}, "local")

	writeFiles(t, dir, map[string]string{
		"change.txt":          "edited\n",  // modified
		"keep.txt":            "staged\n",  // staged
		"sub/deep.txt":        "staged\n",  // staged and then modified again
		"new-staged.txt":      "s\n",       // staged (added)
		"untracked.txt":       "u\n",       // untracked
		"newdir/a.txt":        "a\n",       // untracked, inside a new directory:
		"newdir/deeper/b.txt": "b\n",       // counted per file (-uall)
		"ignored.log":         "ignored\n", // ignored by .gitignore
		".gitignore":          "*.log\n",   // untracked
		"node_modules/x.js":   "x\n",       // ignored by info/exclude
	})
	// go-git does not create .git/info; git reads it all the same.
	writeFiles(t, filepath.Join(dir, ".git"), map[string]string{"info/exclude": "node_modules/\n"})
	runGit(t, dir, "add", "keep.txt", "sub/deep.txt", "new-staged.txt")
	writeFiles(t, dir, map[string]string{"sub/deep.txt": "modified after staging\n"})
	if err := os.Remove(filepath.Join(dir, "remove.txt")); err != nil { // modified (deleted in worktree)
		t.Fatal(err)
	}

	check("dirty", GitStatus{Branch: "main", Ahead: 1, Behind: 1, Modified: 3, Staged: 3, Untracked: 4})

	runGit(t, dir, "checkout", "-q", "--detach")
	check("detached", GitStatus{Branch: "(detached)", Modified: 3, Staged: 3, Untracked: 4})
	if got, want := CurrentBranch(dir), runGit(t, dir, "rev-parse", "--short=7", "HEAD"); got != want {
		t.Errorf("CurrentBranch(detached) = %q, want %q", got, want)
	}
}

func TestStatusFallsBackToGoGit(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.GitBinary = "/nonexistent/git" })
	if e.m.git != "" {
		t.Fatalf("git = %q", e.m.git)
	}
	ctx := context.Background()
	ws, err := e.m.Create(ctx, e.user, CreateOptions{Name: "w"})
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, ws.LocalPath, map[string]string{"a": "a", "b/c": "c"})
	st, err := e.m.Status(ctx, e.user.ID, ws.ID)
	if err != nil || st != (GitStatus{Branch: "main", Untracked: 2}) {
		t.Fatalf("status = %+v, %v", st, err)
	}
}
