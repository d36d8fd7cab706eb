package files

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"github.com/codeterm/codeterm/store"
)

// Put writes size bytes from r to name in one of the user's workspaces,
// atomically like Tree.Write but streamed: for HTTP PUT, where the body
// can be far larger than what a Write holds in memory. The bytes count
// against the user's in-flight limit while they arrive.
func (s *Service) Put(ctx context.Context, user *store.User, workspaceID, name string, r io.Reader, size int64, opt WriteOptions) (WriteResult, error) {
	name, err := CleanPath(name)
	if err != nil {
		return WriteResult{}, err
	}
	if name == "." {
		return WriteResult{}, fmt.Errorf("put: %w: a file name is required", ErrInvalidPath)
	}
	if size < 0 || size > s.cfg.MaxUploadBytes {
		return WriteResult{}, fmt.Errorf("put %s: %w: %d bytes, the limit is %d", name, ErrTooLarge, size, s.cfg.MaxUploadBytes)
	}
	t, err := s.Open(ctx, user, workspaceID)
	if err != nil {
		return WriteResult{}, err
	}
	defer t.Close()
	if err := s.reserve(user.ID, size); err != nil {
		return WriteResult{}, fmt.Errorf("put %s: %w", name, err)
	}
	defer s.unreserve(user.ID, size)
	mode, err := t.checkBase(name, opt)
	if err != nil {
		return WriteResult{}, err
	}
	h := sha256.New()
	err = t.replace(name, mode, func(f *os.File) error {
		n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(r, size+1))
		if err != nil {
			return err
		}
		if n != size {
			return fmt.Errorf("put %s: %w: got %d bytes, announced %d", name, ErrChecksum, n, size)
		}
		return nil
	}, func() error {
		_, err := t.checkBase(name, opt)
		return err
	})
	if err != nil {
		return WriteResult{}, err
	}
	res := WriteResult{Sha256: hex.EncodeToString(h.Sum(nil)), Size: size}
	if fi, err := t.root.Lstat(name); err == nil {
		res.Mtime = fi.ModTime()
	}
	return res, nil
}

// reserve counts n bytes against the user's in-flight limit.
func (s *Service) reserve(userID string, n int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("%w: server shutting down", ErrLimit)
	}
	if s.inflight[userID]+n > s.cfg.MaxInFlightBytes {
		return fmt.Errorf("%w: uploads in progress would exceed %d bytes", ErrLimit, s.cfg.MaxInFlightBytes)
	}
	s.inflight[userID] += n
	return nil
}

func (s *Service) unreserve(userID string, n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inflight[userID] -= n
	if s.inflight[userID] <= 0 {
		delete(s.inflight, userID)
	}
}
