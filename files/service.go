package files

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/codeterm/codeterm/store"
	"github.com/codeterm/codeterm/workspaces"
)

// Workspaces finds a user's workspace; *workspaces.Manager is one. Another
// user's workspace must be reported exactly like a missing one.
type Workspaces interface {
	Get(ctx context.Context, userID, id string) (*store.Workspace, error)
}

// Config configures a Service. Workspaces is required; zero values of the
// rest are working defaults.
type Config struct {
	Workspaces Workspaces
	// Opener opens workspace roots; nil is OSOpener.
	Opener Opener
	// MaxReadBytes bounds what one read returns (default 8 MiB); larger
	// files are for downloads.
	MaxReadBytes int64
	// MaxUploadBytes bounds one upload or write (default 4 GiB).
	MaxUploadBytes int64
	// MaxInFlightBytes bounds the declared sizes of one user's unfinished
	// uploads together (default 8 GiB).
	MaxInFlightBytes int64
	// UploadIdle is how long an unfinished upload waits to be resumed
	// before its partial file is removed (default 1h).
	UploadIdle time.Duration
	Log        *slog.Logger
}

// Service opens workspaces' file trees and keeps unfinished uploads.
type Service struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	uploads  map[string]*Upload
	inflight map[string]int64 // declared bytes of unfinished uploads, by user
	closed   bool
}

// New returns a Service. Call Run to expire abandoned uploads and Close to
// remove the partial files of unfinished ones.
func New(cfg Config) *Service {
	if cfg.Opener == nil {
		cfg.Opener = OSOpener{}
	}
	if cfg.MaxReadBytes <= 0 {
		cfg.MaxReadBytes = 8 << 20
	}
	if cfg.MaxUploadBytes <= 0 {
		cfg.MaxUploadBytes = 4 << 30
	}
	if cfg.MaxInFlightBytes <= 0 {
		cfg.MaxInFlightBytes = 8 << 30
	}
	if cfg.UploadIdle <= 0 {
		cfg.UploadIdle = time.Hour
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Service{cfg: cfg, log: cfg.Log, uploads: map[string]*Upload{}, inflight: map[string]int64{}}
}

// Limits reports the effective limits, for clients that size their reads.
func (s *Service) Limits() (maxRead, maxUpload int64) {
	return s.cfg.MaxReadBytes, s.cfg.MaxUploadBytes
}

// Open returns the file tree of one of the user's workspaces. The caller
// closes it. A workspace that is missing or someone else's is
// workspaces.ErrNotFound either way.
func (s *Service) Open(ctx context.Context, user *store.User, workspaceID string) (*Tree, error) {
	ws, err := s.cfg.Workspaces.Get(ctx, user.ID, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("open files of %s: %w", workspaceID, err)
	}
	root, err := s.cfg.Opener.OpenRoot(ctx, user, ws.LocalPath)
	if err != nil {
		// The row exists but its directory does not: to the client it is
		// as gone as the workspace.
		return nil, fmt.Errorf("open files of %s: %w: %w", workspaceID, workspaces.ErrNotFound, err)
	}
	return &Tree{root: root, maxRead: s.cfg.MaxReadBytes, maxWrite: s.cfg.MaxUploadBytes}, nil
}

// Run expires uploads idle for longer than Config.UploadIdle until ctx ends.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(min(s.cfg.UploadIdle/4, time.Minute))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.expire(now)
		}
	}
}

func (s *Service) expire(now time.Time) {
	s.mu.Lock()
	var stale []*Upload
	for _, u := range s.uploads {
		if now.Sub(u.lastActive()) > s.cfg.UploadIdle {
			stale = append(stale, u)
		}
	}
	s.mu.Unlock()
	for _, u := range stale {
		s.log.Info("upload abandoned", "upload", u.ID, "user", u.UserID, "path", u.Path)
		u.Abort()
	}
}

// Close aborts every unfinished upload and removes its partial file.
func (s *Service) Close() error {
	s.mu.Lock()
	s.closed = true
	all := make([]*Upload, 0, len(s.uploads))
	for _, u := range s.uploads {
		all = append(all, u)
	}
	s.mu.Unlock()
	for _, u := range all {
		u.Abort()
	}
	return nil
}
