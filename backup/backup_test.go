package backup

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/codeterm/codeterm/datadir"
)

func archive(t *testing.T, files map[string]string) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, body := range files {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
	}
	tw.Close()
	return &buf
}

// An archive cannot write outside the data dir or over its plain
// directories, and one without a database is not a backup.
func TestRestoreRefusesBadArchives(t *testing.T) {
	for name, files := range map[string]map[string]string{
		"escape":    {"codeterm.db": "x", "../evil": "x"},
		"absolute":  {"codeterm.db": "x", "/tmp/evil": "x"},
		"workspace": {"codeterm.db": "x", "workspaces/alice/x": "x"},
		"no db":     {"jwt.secret": "x"},
	} {
		dir := filepath.Join(t.TempDir(), "data")
		if err := Restore(archive(t, files), dir); err == nil {
			t.Errorf("%s: restored", name)
		}
		if _, err := os.Stat(filepath.Join(dir, "jwt.secret")); err == nil {
			t.Errorf("%s: a file was written", name)
		}
	}
}

// Restoring over a stopped data dir replaces the database and drops its
// stale WAL, which SQLite would otherwise replay into the restored copy.
func TestRestoreDropsStaleWAL(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "codeterm.db-wal"), []byte("old"), 0o600)
	os.WriteFile(filepath.Join(dir, "other"), []byte("kept"), 0o600)
	if err := Restore(archive(t, map[string]string{"codeterm.db": "new", "acme/example.com": "cert"}), dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "codeterm.db-wal")); err == nil {
		t.Fatal("stale WAL kept")
	}
	for f, want := range map[string]string{"codeterm.db": "new", "other": "kept", "acme/example.com": "cert"} {
		if b, _ := os.ReadFile(filepath.Join(dir, f)); string(b) != want {
			t.Errorf("%s: %q, want %q", f, b, want)
		}
	}
	l, err := datadir.Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	err = Restore(archive(t, map[string]string{"codeterm.db": "x"}), dir)
	if !errors.Is(err, datadir.ErrInUse) || !strings.Contains(err.Error(), "running") {
		t.Fatalf("restore over a locked dir: %v", err)
	}
}
