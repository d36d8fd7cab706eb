package files

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/codeterm/codeterm/store"
)

// UploadWindow is how many chunks of one upload may wait to be written.
const UploadWindow = 8

// MaxUploadsPerUser bounds a user's unfinished uploads: each holds an open
// file and a goroutine, whatever its size.
const MaxUploadsPerUser = 64

// UploadOptions start an upload.
type UploadOptions struct {
	Path string
	Size int64
	// Sha256, when set, is the hex digest the finished file must have;
	// otherwise the file is accepted as received.
	Sha256 string
	// Overwrite allows replacing an existing file.
	Overwrite bool
}

// Progress is an upload's state after a chunk.
type Progress struct {
	Offset int64 // bytes written, the offset to resume from
	Size   int64
	Done   bool
	Sha256 string // set when Done
}

// Upload is a file being received in chunks. Chunks are written in order
// by a goroutine of the upload's own, so the caller (a socket's reading
// goroutine) never waits for the disk; the partial file is hidden beside
// the target and renamed over it only when complete and verified. An
// upload survives its client: a new connection resumes it by id from
// Offset.
type Upload struct {
	ID, UserID, WorkspaceID, Path string
	Size                          int64

	svc       *Service
	tree      *Tree
	tmp       string
	want      string
	overwrite bool
	chunks    chan chunk
	quit      chan struct{} // closed by end

	mu      sync.Mutex // guards the fields below
	f       *os.File
	h       hash.Hash
	written int64
	queued  int64 // end of the last chunk accepted into chunks
	last    time.Time
	ended   bool
	mode    os.FileMode
}

type chunk struct {
	offset int64
	data   []byte
	done   func(Progress, error)
	sync   chan int64 // a barrier: receives written once everything before it is
}

// StartUpload opens a new upload into one of the user's workspaces.
func (s *Service) StartUpload(ctx context.Context, user *store.User, workspaceID string, opt UploadOptions) (*Upload, error) {
	name, err := CleanPath(opt.Path)
	if err != nil {
		return nil, err
	}
	if name == "." {
		return nil, fmt.Errorf("upload: %w: a file name is required", ErrInvalidPath)
	}
	if opt.Size < 0 || opt.Size > s.cfg.MaxUploadBytes {
		return nil, fmt.Errorf("upload %s: %w: %d bytes, the limit is %d", name, ErrTooLarge, opt.Size, s.cfg.MaxUploadBytes)
	}
	if opt.Sha256 != "" && !isHexDigest(opt.Sha256) {
		return nil, fmt.Errorf("upload %s: %w: sha256 must be 64 hex digits", name, ErrInvalidPath)
	}
	t, err := s.Open(ctx, user, workspaceID)
	if err != nil {
		return nil, err
	}
	u, err := s.startUpload(t, user.ID, workspaceID, name, opt)
	if err != nil {
		t.Close()
		return nil, err
	}
	return u, nil
}

func (s *Service) startUpload(t *Tree, userID, workspaceID, name string, opt UploadOptions) (*Upload, error) {
	mode := os.FileMode(0o644)
	if fi, err := t.root.Lstat(name); err == nil {
		if !opt.Overwrite {
			return nil, fmt.Errorf("upload %s: %w", name, ErrExists)
		}
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("upload %s: %w", name, ErrNotFile)
		}
		mode = fi.Mode().Perm()
	}
	if err := s.reserve(userID, opt.Size); err != nil {
		return nil, fmt.Errorf("upload %s: %w", name, err)
	}

	u := &Upload{ID: randomID() + randomID(), UserID: userID, WorkspaceID: workspaceID, Path: name, Size: opt.Size,
		svc: s, tree: t, tmp: tempName(name, "upload"), want: strings.ToLower(opt.Sha256), overwrite: opt.Overwrite,
		chunks: make(chan chunk, UploadWindow), quit: make(chan struct{}), h: sha256.New(), last: time.Now(), mode: mode}
	s.mu.Lock()
	n := 0
	for _, o := range s.uploads {
		if o.UserID == userID {
			n++
		}
	}
	if n >= MaxUploadsPerUser {
		s.mu.Unlock()
		s.unreserve(userID, opt.Size)
		return nil, fmt.Errorf("upload %s: %w: %d unfinished uploads", name, ErrLimit, n)
	}
	s.uploads[u.ID] = u
	s.mu.Unlock()
	f, err := t.root.OpenFile(u.tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		s.release(u)
		return nil, classify("upload", name, err)
	}
	u.f = f
	go u.run()
	if opt.Size == 0 {
		// Nothing will come: finish now, as the last chunk would.
		errc := make(chan error, 1)
		if err := u.Write(0, nil, func(_ Progress, err error) { errc <- err }); err != nil {
			errc <- err
		}
		if err := <-errc; err != nil {
			return nil, err
		}
	}
	return u, nil
}

// Upload finds one of the user's unfinished uploads, to resume it. Another
// user's upload is ErrUpload like a missing one.
func (s *Service) Upload(userID, id string) (*Upload, error) {
	s.mu.Lock()
	u := s.uploads[id]
	s.mu.Unlock()
	if u == nil || u.UserID != userID {
		return nil, fmt.Errorf("upload %s: %w", id, ErrUpload)
	}
	return u, nil
}

func (s *Service) release(u *Upload) {
	s.mu.Lock()
	if s.uploads[u.ID] == u {
		delete(s.uploads, u.ID)
	}
	s.mu.Unlock()
	s.unreserve(u.UserID, u.Size)
}

// Write queues a chunk at offset, which must be where the previous chunk
// ended. A chunk refused at once (out of order, past the size, a full
// window, an ended upload) is the returned error and done is not called;
// otherwise done is called from the upload's goroutine once the chunk is
// on disk or has failed.
func (u *Upload) Write(offset int64, data []byte, done func(Progress, error)) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	switch {
	case u.ended:
		return fmt.Errorf("upload %s: %w", u.ID, ErrUpload)
	case offset != u.queued:
		return fmt.Errorf("upload %s: %w: got offset %d, want %d", u.ID, ErrOffset, offset, u.queued)
	case offset+int64(len(data)) > u.Size:
		return fmt.Errorf("upload %s: %w: chunk ends past the declared size %d", u.ID, ErrTooLarge, u.Size)
	}
	select {
	case u.chunks <- chunk{offset: offset, data: data, done: done}:
		u.queued += int64(len(data))
		u.last = time.Now()
		return nil
	default:
		return fmt.Errorf("upload %s: %w: at most %d", u.ID, ErrWindow, UploadWindow)
	}
}

// Resume waits until every chunk already accepted is written, then
// returns the offset the next chunk must start at: chunks accepted from a
// connection that has since gone are kept, chunks after them must be sent
// again.
func (u *Upload) Resume(ctx context.Context) (Progress, error) {
	ch := make(chan int64, 1)
	u.mu.Lock()
	if u.ended {
		u.mu.Unlock()
		return Progress{}, fmt.Errorf("upload %s: %w", u.ID, ErrUpload)
	}
	u.last = time.Now()
	u.mu.Unlock()
	// A blocking send: the barrier waits for window room like any chunk.
	select {
	case u.chunks <- chunk{sync: ch}:
	case <-u.quit:
		return Progress{}, fmt.Errorf("upload %s: %w", u.ID, ErrUpload)
	case <-ctx.Done():
		return Progress{}, ctx.Err()
	}
	select {
	case <-u.quit:
		return Progress{}, fmt.Errorf("upload %s: %w", u.ID, ErrUpload)
	case off := <-ch:
		if off < 0 {
			return Progress{}, fmt.Errorf("upload %s: %w", u.ID, ErrUpload)
		}
		return Progress{Offset: off, Size: u.Size}, nil
	case <-ctx.Done():
		return Progress{}, ctx.Err()
	}
}

func (u *Upload) run() {
	for {
		var c chunk
		select {
		case c = <-u.chunks:
		case <-u.quit:
			u.drain()
			return
		}
		if c.sync != nil {
			u.mu.Lock()
			off := u.written
			if u.ended {
				off = -1
			}
			u.queued = u.written
			u.mu.Unlock()
			c.sync <- off
			continue
		}
		p, err := u.write(c)
		// End first: once acked, the partial file is gone or renamed.
		if p.Done || err != nil && !isChunkError(err) {
			u.end(err != nil)
		}
		c.done(p, err)
	}
}

// drain refuses the chunks still queued when the upload ended; Write
// queues no more once it has.
func (u *Upload) drain() {
	for {
		select {
		case c := <-u.chunks:
			if c.sync != nil {
				c.sync <- -1
			} else {
				c.done(Progress{}, fmt.Errorf("upload %s: %w", u.ID, ErrUpload))
			}
		default:
			return
		}
	}
}

// isChunkError tells a refused chunk (the upload goes on) from a failure
// that ends the upload.
func isChunkError(err error) bool {
	return Code(err) == "UPLOAD_OFFSET" || Code(err) == "UPLOAD_WINDOW_FULL"
}

func (u *Upload) write(c chunk) (Progress, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.ended {
		return Progress{}, fmt.Errorf("upload %s: %w", u.ID, ErrUpload)
	}
	if c.offset != u.written {
		// Only after a Resume dropped chunks in flight.
		return Progress{Offset: u.written, Size: u.Size}, fmt.Errorf("upload %s: %w: got offset %d, want %d", u.ID, ErrOffset, c.offset, u.written)
	}
	if _, err := u.f.Write(c.data); err != nil {
		return Progress{}, classify("upload", u.Path, err)
	}
	u.h.Write(c.data)
	u.written += int64(len(c.data))
	u.last = time.Now()
	p := Progress{Offset: u.written, Size: u.Size}
	if u.written < u.Size {
		return p, nil
	}
	sum := hex.EncodeToString(u.h.Sum(nil))
	if u.want != "" && sum != u.want {
		return p, fmt.Errorf("upload %s: %w: received %s, expected %s", u.Path, ErrChecksum, sum, u.want)
	}
	if _, err := u.tree.root.Lstat(u.Path); err == nil && !u.overwrite {
		// Someone made the file while we received it.
		return p, fmt.Errorf("upload %s: %w", u.Path, ErrExists)
	}
	err := u.tree.commit(u.f, u.tmp, u.Path, u.mode, nil)
	u.f = nil
	if err != nil {
		return p, err
	}
	p.Done, p.Sha256 = true, sum
	return p, nil
}

// end stops the upload; failed removes the partial file.
func (u *Upload) end(failed bool) {
	u.mu.Lock()
	if u.ended {
		u.mu.Unlock()
		return
	}
	u.ended = true
	close(u.quit)
	if u.f != nil {
		u.f.Close()
		u.f = nil
		failed = true
	}
	u.mu.Unlock()
	if failed {
		u.tree.root.Remove(u.tmp)
	}
	u.tree.Close()
	u.svc.release(u)
}

// Abort ends an unfinished upload and removes its partial file.
func (u *Upload) Abort() {
	u.end(true)
}

// Offset is how many bytes are on disk.
func (u *Upload) Offset() int64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.written
}

func (u *Upload) lastActive() time.Time {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.last
}

func isHexDigest(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}
