package files

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Tree is one workspace's files, opened for one user. Its methods take
// paths as clients send them (see CleanPath). A Tree is safe for
// concurrent use; Close it when done.
type Tree struct {
	root              Root
	maxRead, maxWrite int64
}

// Close releases the root.
func (t *Tree) Close() error { return t.root.Close() }

// Entry describes one file.
type Entry struct {
	Name  string      `json:"name"`
	Path  string      `json:"path"`
	Type  string      `json:"type"` // file, dir, symlink or other
	Size  int64       `json:"size"`
	Mtime time.Time   `json:"mtime"`
	Mode  fs.FileMode `json:"-"`
}

func entryOf(p string, fi fs.FileInfo) Entry {
	e := Entry{Name: path.Base(p), Path: p, Size: fi.Size(), Mtime: fi.ModTime(), Mode: fi.Mode()}
	switch {
	case fi.Mode().IsRegular():
		e.Type = "file"
	case fi.IsDir():
		e.Type, e.Size = "dir", 0
	case fi.Mode()&fs.ModeSymlink != 0:
		e.Type = "symlink"
	default:
		e.Type = "other"
	}
	return e
}

// Listing is a page of a directory.
type Listing struct {
	Entries []Entry
	// Cursor, when not "", fetches the next page.
	Cursor string
}

// MaxListDepth bounds List's depth.
const MaxListDepth = 5

// List returns the entries of the directory dir sorted by path, hidden
// files included and .git left out, descending depth levels (1 is the
// directory alone). Large listings come in pages of at most limit entries:
// pass the previous page's Cursor to continue.
func (t *Tree) List(dir string, depth, limit int, cursor string) (Listing, error) {
	dir, err := CleanPath(dir)
	if err != nil {
		return Listing{}, err
	}
	depth = max(1, min(depth, MaxListDepth))
	if limit <= 0 {
		limit = 1000
	}
	var out []Entry
	var walk func(d string, level int) error
	walk = func(d string, level int) error {
		names, err := t.readDirNames(d)
		if err != nil {
			return err
		}
		for _, n := range names {
			p := n
			if d != "." {
				p = d + "/" + n
			}
			if p == ".git" || IsTemp(n) {
				continue
			}
			fi, err := t.root.Lstat(p)
			if err != nil {
				continue // removed while we listed
			}
			e := entryOf(p, fi)
			if p > cursor {
				out = append(out, e)
			}
			if e.Type == "dir" && level < depth {
				if err := walk(p, level+1); err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrPermission) {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(dir, 1); err != nil {
		return Listing{}, err
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Path, b.Path) })
	l := Listing{Entries: out}
	if len(out) > limit {
		l.Entries = out[:limit]
		l.Cursor = out[limit-1].Path
	}
	return l, nil
}

func (t *Tree) readDirNames(dir string) ([]string, error) {
	f, err := t.root.OpenFile(dir, os.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		return nil, classify("list", dir, err)
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, classify("list", dir, err)
	}
	slices.Sort(names)
	return names, nil
}

// Stat describes one path without following a final symlink.
func (t *Tree) Stat(name string) (Entry, error) {
	name, err := CleanPath(name)
	if err != nil {
		return Entry{}, err
	}
	fi, err := t.root.Lstat(name)
	if err != nil {
		return Entry{}, classify("stat", name, err)
	}
	return entryOf(name, fi), nil
}

// OpenRegular opens a regular file for reading. It is opened before it is
// checked, without blocking (a FIFO would wait for a writer), and checked
// from the descriptor, so nothing swapped in between check and use gets
// through: devices, FIFOs, sockets and directories are ErrNotFile.
func (t *Tree) OpenRegular(name string) (*os.File, fs.FileInfo, error) {
	name, err := CleanPath(name)
	if err != nil {
		return nil, nil, err
	}
	return t.openRegular(name, os.O_RDONLY)
}

func (t *Tree) openRegular(name string, flag int) (*os.File, fs.FileInfo, error) {
	if name == "." {
		return nil, nil, fmt.Errorf("open workspace root: %w", ErrNotFile)
	}
	f, err := t.root.OpenFile(name, flag|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, classify("open", name, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, classify("open", name, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("open %s: %w (%s)", name, ErrNotFile, fi.Mode().Type())
	}
	return f, fi, nil
}

// ReadResult is a read's data and the file's state when it was read.
type ReadResult struct {
	Data  []byte
	Size  int64
	Mtime time.Time
	// Sha256 is the hex digest of the whole file, set when the read
	// covered all of it: the base of a later Write.
	Sha256 string
}

// Read reads length bytes at offset (length 0: to the end). Reads larger
// than the limit are ErrTooLarge: such files are downloaded instead.
func (t *Tree) Read(name string, offset, length int64) (ReadResult, error) {
	f, fi, err := t.OpenRegular(name)
	if err != nil {
		return ReadResult{}, err
	}
	defer f.Close()
	size := fi.Size()
	if offset < 0 || length < 0 {
		return ReadResult{}, fmt.Errorf("%w: negative offset or length", ErrInvalidPath)
	}
	offset = min(offset, size)
	if length == 0 || length > size-offset {
		length = size - offset
	}
	if length > t.maxRead {
		return ReadResult{}, fmt.Errorf("read %s: %w: %d bytes, the limit is %d; download it instead", name, ErrTooLarge, length, t.maxRead)
	}
	buf := make([]byte, length)
	n, err := f.ReadAt(buf, offset)
	if err != nil && !errors.Is(err, io.EOF) {
		return ReadResult{}, classify("read", name, err)
	}
	r := ReadResult{Data: buf[:n], Size: size, Mtime: fi.ModTime()}
	if offset == 0 && int64(n) == size {
		r.Sha256 = hashHex(buf[:n])
	}
	return r, nil
}

// WriteOptions qualify a Write.
type WriteOptions struct {
	// BaseSha256, when set, is the digest the caller last read: the write
	// is ErrConflict if the file now differs (or is gone).
	BaseSha256 string
	// Create allows the file not to exist; with Create and no BaseSha256
	// an existing file is ErrExists unless Overwrite is set too.
	Create    bool
	Overwrite bool
}

// WriteResult is the file's state after a write.
type WriteResult struct {
	Sha256 string
	Size   int64
	Mtime  time.Time
}

// Write replaces the file's content atomically: it is written to a
// temporary file beside it, synced, given the old file's mode and renamed
// over it, so readers see the old or the new content, never a mix.
func (t *Tree) Write(name string, content []byte, opt WriteOptions) (WriteResult, error) {
	name, err := CleanPath(name)
	if err != nil {
		return WriteResult{}, err
	}
	if int64(len(content)) > t.maxWrite {
		return WriteResult{}, fmt.Errorf("write %s: %w: the limit is %d bytes", name, ErrTooLarge, t.maxWrite)
	}
	mode, err := t.checkBase(name, opt)
	if err != nil {
		return WriteResult{}, err
	}
	var r WriteResult
	err = t.replace(name, mode, func(f *os.File) error {
		_, err := f.Write(content)
		return err
	}, func() error {
		// Check again just before the rename: a change during our write
		// must not be overwritten silently.
		_, err := t.checkBase(name, opt)
		return err
	})
	if err != nil {
		return WriteResult{}, err
	}
	r.Sha256, r.Size = hashHex(content), int64(len(content))
	if fi, err := t.root.Lstat(name); err == nil {
		r.Mtime = fi.ModTime()
	}
	return r, nil
}

// checkBase applies opt to the file as it is now and returns the mode a
// replacement must keep.
func (t *Tree) checkBase(name string, opt WriteOptions) (fs.FileMode, error) {
	if fi, err := t.root.Lstat(name); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		// Renaming over it would replace the link by a file.
		return 0, fmt.Errorf("write %s: %w: it is a symbolic link; write its target", name, ErrNotFile)
	}
	f, fi, err := t.openRegular(name, os.O_RDONLY)
	if errors.Is(err, ErrNotFound) {
		if opt.BaseSha256 != "" {
			return 0, fmt.Errorf("write %s: %w: it was deleted", name, ErrConflict)
		}
		if !opt.Create {
			return 0, err
		}
		return 0o644, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if opt.BaseSha256 == "" {
		if opt.Create && !opt.Overwrite {
			return 0, fmt.Errorf("create %s: %w", name, ErrExists)
		}
		return fi.Mode().Perm(), nil
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return 0, classify("read", name, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); !strings.EqualFold(got, opt.BaseSha256) {
		return 0, fmt.Errorf("write %s: %w: on disk %s, base %s", name, ErrConflict, got, opt.BaseSha256)
	}
	return fi.Mode().Perm(), nil
}

// replace writes a new file beside name with fill, then renames it over
// name after check passes. The temporary file is removed on any failure.
func (t *Tree) replace(name string, mode fs.FileMode, fill func(*os.File) error, check func() error) (err error) {
	tmp := tempName(name, "tmp")
	f, err := t.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return classify("write", name, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			t.root.Remove(tmp)
		}
	}()
	if err = fill(f); err != nil {
		return classify("write", name, err)
	}
	return t.commit(f, tmp, name, mode, check)
}

// commit makes the written temporary file f the file name: sync, mode
// (from the descriptor, so a swapped path cannot redirect it), rename.
func (t *Tree) commit(f *os.File, tmp, name string, mode fs.FileMode, check func() error) error {
	if err := f.Sync(); err != nil {
		return classify("write", name, err)
	}
	if err := f.Chmod(mode); err != nil {
		return classify("write", name, err)
	}
	if err := f.Close(); err != nil {
		return classify("write", name, err)
	}
	if check != nil {
		if err := check(); err != nil {
			return err
		}
	}
	if err := t.root.Rename(tmp, name); err != nil {
		return classify("write", name, err)
	}
	return nil
}

// tempName is a hidden name beside name for work in progress: an atomic
// write's new content or an unfinished upload. List leaves them out.
func tempName(name, kind string) string {
	dir, base := path.Split(name)
	return dir + "." + base + "." + randomID() + ".codeterm-" + kind
}

// IsTemp tells whether the file at p (a path or a base name) is such a
// work-in-progress file.
func IsTemp(p string) bool {
	base := path.Base(p)
	return strings.HasPrefix(base, ".") && (strings.HasSuffix(base, ".codeterm-tmp") || strings.HasSuffix(base, ".codeterm-upload"))
}

func randomID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func hashHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Mkdir creates a directory; with parents, missing parents too and an
// existing directory is not an error.
func (t *Tree) Mkdir(name string, parents bool) error {
	name, err := CleanPath(name)
	if err != nil {
		return err
	}
	if name == "." {
		return fmt.Errorf("create directory: %w", ErrExists)
	}
	if parents {
		err = t.root.MkdirAll(name, 0o755)
	} else {
		err = t.root.Mkdir(name, 0o755)
	}
	return classify("create directory", name, err)
}

// Rename moves from to to. An existing to is ErrExists: a rename never
// destroys a file silently.
func (t *Tree) Rename(from, to string) error {
	from, err := CleanPath(from)
	if err != nil {
		return err
	}
	to, err = CleanPath(to)
	if err != nil {
		return err
	}
	if from == "." || to == "." {
		return fmt.Errorf("rename the workspace itself: %w", ErrInvalidPath)
	}
	if _, err := t.root.Lstat(from); err != nil {
		return classify("rename", from, err)
	}
	if _, err := t.root.Lstat(to); err == nil {
		return fmt.Errorf("rename %s to %s: %w", from, to, ErrExists)
	}
	return classify("rename", from, t.root.Rename(from, to))
}

// Delete removes a file, a symlink (not its target) or an empty directory;
// with recursive, a directory and everything in it.
func (t *Tree) Delete(name string, recursive bool) error {
	name, err := CleanPath(name)
	if err != nil {
		return err
	}
	if name == "." {
		return fmt.Errorf("delete the workspace itself: %w", ErrInvalidPath)
	}
	if _, err := t.root.Lstat(name); err != nil {
		return classify("delete", name, err)
	}
	if recursive {
		return classify("delete", name, t.root.RemoveAll(name))
	}
	err = t.root.Remove(name)
	if errors.Is(err, syscall.EEXIST) { // some kernels say EEXIST for a non-empty directory
		err = syscall.ENOTEMPTY
	}
	return classify("delete", name, err)
}
