package workspaces

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkStatus compares go-git's worktree status with `git status
// --porcelain=v2` on a 50,000-file checkout (500 directories of 100 files,
// committed once, then 5 files modified and 3 added). It decided the
// default: the git binary, with go-git as the fallback.
//
//	go test -run '^$' -bench Status -benchtime 5x ./workspaces/
func BenchmarkStatus(b *testing.B) {
	gitPath := gitBin(b)
	dir := b.TempDir()
	for d := range 500 {
		sub := filepath.Join(dir, fmt.Sprintf("pkg%03d", d))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			b.Fatal(err)
		}
		for f := range 100 {
			content := fmt.Sprintf("package %d\n// file %d of directory %d\n", d, f, d)
			if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%03d.go", f)), []byte(content), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	runGit(b, dir, "init", "-q")
	runGit(b, dir, "add", "-A")
	runGit(b, dir, "commit", "-q", "-m", "50k files")
	for i := range 5 {
		writeFiles(b, dir, map[string]string{fmt.Sprintf("pkg%03d/f%03d.go", i*97, i): "changed\n"})
	}
	writeFiles(b, dir, map[string]string{"new1.txt": "n", "new2.txt": "n", "newdir/n.txt": "n"})

	ctx := context.Background()
	want := GitStatus{Branch: "main", Modified: 5, Untracked: 3}
	impls := []struct {
		name string
		fn   func() (statusReport, error)
	}{
		{"go-git", func() (statusReport, error) { return statusGoGit(ctx, dir) }},
		{"git-binary", func() (statusReport, error) { return statusGit(ctx, gitPath, dir, nil) }},
	}
	for _, impl := range impls {
		b.Run(impl.name, func(b *testing.B) {
			for b.Loop() {
				r, err := impl.fn()
				if err != nil {
					b.Fatal(err)
				}
				if r.GitStatus != want {
					b.Fatalf("status = %+v, want %+v", r.GitStatus, want)
				}
			}
		})
	}
}
