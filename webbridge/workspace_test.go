package webbridge

import (
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/codeterm/codeterm/internal/gittest"
)

// gitHTTP serves bare repositories with git's own smart-HTTP backend.
func gitHTTP(t *testing.T) (root string, ts *httptest.Server) {
	t.Helper()
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	t.Setenv("GIT_CONFIG_GLOBAL", os.DevNull)
	root = t.TempDir()
	ts = httptest.NewServer(gittest.Backend(t, root))
	t.Cleanup(ts.Close)
	return root, ts
}

func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"}, args...)...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

// TestCloneAndSync clones over HTTP with workspace-progress, then pulls a
// new commit with sync-workspace.
func TestCloneAndSync(t *testing.T) {
	root, gs := gitHTTP(t)
	bare := filepath.Join(root, "demo.git")
	git(t, root, "init", "-q", "--bare", "-b", "main", bare)
	work := filepath.Join(t.TempDir(), "demo")
	git(t, filepath.Dir(work), "clone", "-q", bare, work)
	os.WriteFile(filepath.Join(work, "README"), []byte("hi\n"), 0o644)
	git(t, work, "add", "-A")
	git(t, work, "commit", "-q", "-m", "one")
	git(t, work, "push", "-q", "origin", "HEAD")

	e := newEnv(t, envOptions{})
	c := e.dial(e.token(e.alice))
	ack := c.call("create-workspace", map[string]any{"name": "demo", "repoUrl": gs.URL + "/demo.git"})
	if ack["ok"] != true {
		t.Fatalf("create-workspace: %v", ack)
	}
	c.waitEvent("workspace-progress", 0, func(m map[string]any) bool {
		return m["step"] == "completed" && m["progress"] == 100.0 && m["message"] != nil
	})
	created, _ := c.waitEvent("workspace-created", 0, nil)
	ws := created["workspace"].(map[string]any)
	id := ws["id"].(string)
	if ws["name"] != "demo" || ws["localPath"] == "" {
		t.Fatalf("workspace-created %v", created)
	}
	if _, err := os.Stat(filepath.Join(ws["localPath"].(string), "README")); err != nil {
		t.Fatalf("clone: %v", err)
	}

	os.WriteFile(filepath.Join(work, "NEW"), []byte("new\n"), 0o644)
	git(t, work, "add", "-A")
	git(t, work, "commit", "-q", "-m", "two")
	git(t, work, "push", "-q", "origin", "HEAD")
	ack = c.call("sync-workspace", map[string]any{"workspaceId": id, "operation": "pull"})
	if ack["ok"] != true {
		t.Fatalf("sync: %v", ack)
	}
	synced, _ := c.waitEvent("workspace-synced", 0, nil)
	changes, _ := synced["changes"].(map[string]any)
	if synced["workspaceId"] != id || synced["operation"] != "pull" || synced["success"] != true || changes["added"] != 1.0 {
		t.Fatalf("workspace-synced %v", synced)
	}

	// cancel-workspace with nothing in flight says so.
	if ack := c.call("cancel-workspace", map[string]any{"name": "demo"}); ack["ok"] != true || ack["cancelled"] != false {
		t.Fatalf("cancel: %v", ack)
	}
}
