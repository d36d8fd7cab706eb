// Package backup writes and restores codeterm's state: a consistent copy of
// the database taken while the server runs, the SSH host key, the JWT secret
// and the other secrets of the data directory, in one tar file. Workspaces,
// recordings and homes are plain directories, backed up as files are.
package backup

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/codeterm/codeterm/datadir"
)

// Database is the database's name in the data directory and in the archive.
const Database = "codeterm.db"

// Snapshotter copies the live database to a new file.
type Snapshotter interface {
	Snapshot(ctx context.Context, file string) error
}

// skipped are the data directory's entries a backup leaves out: the live
// database (a snapshot goes in instead), state that only means something
// to a running process, and the bulky plain directories.
var skipped = map[string]bool{
	Database: true, Database + "-wal": true, Database + "-shm": true, Database + "-journal": true,
	datadir.LockFile: true,
	"workspaces":     true, "homes": true, "recordings": true, "history": true,
}

// Check tells whether dataDir holds a codeterm installation to back up.
func Check(dataDir string) error {
	if _, err := os.Stat(filepath.Join(dataDir, Database)); err != nil {
		return fmt.Errorf("backup: %s holds no codeterm database: %w", dataDir, err)
	}
	return nil
}

// Write writes the archive of dataDir to w: the database snapshot, then
// every other regular file at the top of dataDir (host key, JWT secret,
// ...) and the acme certificate cache. Sockets and the like are left out.
func Write(ctx context.Context, dataDir string, db Snapshotter, w io.Writer) error {
	tmp, err := os.MkdirTemp(dataDir, ".backup-")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer os.RemoveAll(tmp)
	snap := filepath.Join(tmp, Database)
	if err := db.Snapshot(ctx, snap); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	tw := tar.NewWriter(w)
	if err := addFile(tw, snap, Database); err != nil {
		return err
	}
	err = filepath.WalkDir(dataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dataDir, p)
		if rel == "." {
			return nil
		}
		top := strings.Split(rel, string(filepath.Separator))[0]
		if skipped[top] || strings.HasPrefix(top, ".backup-") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if top != "acme" {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		return addFile(tw, p, filepath.ToSlash(rel))
	})
	if err != nil {
		return fmt.Errorf("backup %s: %w", dataDir, err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

func addFile(tw *tar.Writer, file, name string) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	hdr := &tar.Header{
		Name:    name,
		Mode:    0o600, // everything here is a secret or the database
		Size:    fi.Size(),
		ModTime: fi.ModTime().Truncate(time.Second),
		Format:  tar.FormatPAX,
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("backup %s: %w", name, err)
	}
	if _, err := io.Copy(tw, f); err != nil {
		return fmt.Errorf("backup %s: %w", name, err)
	}
	return nil
}

// Restore unpacks an archive made by Write into dataDir, creating it (mode
// 0700) if needed. It refuses while a server runs on dataDir, and an
// archive without a database. Files of the archive replace those in
// dataDir (the database's stale -wal and -shm go); others are left alone.
func Restore(r io.Reader, dataDir string) error {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	// Held until done, so that no server starts on a half-restored dir.
	lock, err := datadir.Acquire(dataDir)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer lock.Release()

	tmp, err := os.MkdirTemp(dataDir, ".restore-")
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer os.RemoveAll(tmp)
	var names []string
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("restore: reading the archive: %w", err)
		}
		name := path.Clean(hdr.Name)
		if hdr.Typeflag != tar.TypeReg || !fs.ValidPath(name) || name == "." ||
			skipped[strings.Split(name, "/")[0]] && name != Database {
			return fmt.Errorf("restore: unexpected entry %q in the archive", hdr.Name)
		}
		dst := filepath.Join(tmp, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("restore %s: %w", name, err)
		}
		_, err = io.Copy(f, tr)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("restore %s: %w", name, err)
		}
		names = append(names, name)
	}
	if _, err := os.Stat(filepath.Join(tmp, Database)); err != nil {
		return errors.New("restore: the archive holds no codeterm.db: not a codeterm backup")
	}
	// A WAL left from the old database would be replayed into the new one.
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		if err := os.Remove(filepath.Join(dataDir, Database+suffix)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("restore: %w", err)
		}
	}
	for _, name := range names {
		dst := filepath.Join(dataDir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		if err := os.Rename(filepath.Join(tmp, filepath.FromSlash(name)), dst); err != nil {
			return fmt.Errorf("restore %s: %w", name, err)
		}
	}
	return nil
}
