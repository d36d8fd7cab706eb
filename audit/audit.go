// Package audit keeps the audit log: one JSON object a line of who attached
// to, detached from, shared, unshared and killed which session, through
// which front-end and from where, and how many bytes each client typed
// (never the bytes). The file is the server's alone (0600) and is rotated
// by size; every event also goes to the structured log.
package audit

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Event is one line of the log.
type Event struct {
	Time      time.Time `json:"time"`
	Event     string    `json:"event"` // attach, detach, share, unshare, kill
	User      string    `json:"user,omitempty"`
	UserID    string    `json:"userId,omitempty"`
	Addr      string    `json:"addr,omitempty"`
	Via       string    `json:"via,omitempty"` // ssh, browser, cli
	Session   string    `json:"session,omitempty"`
	Workspace string    `json:"workspace,omitempty"`
	Role      string    `json:"role,omitempty"`
	Guest     string    `json:"guest,omitempty"` // share, unshare: the invited user
	ExpiresAt string    `json:"expiresAt,omitempty"`
	// Typed is the number of bytes the client typed while attached
	// (detach only).
	Typed *int64 `json:"typed,omitempty"`
}

// Defaults for Open.
const (
	DefaultMaxBytes = 10 << 20
	DefaultKeep     = 5
)

// Log appends events to a file. A nil *Log records nothing. Its methods are
// safe for concurrent use.
type Log struct {
	path     string
	maxBytes int64
	keep     int
	slog     *slog.Logger

	mu   sync.Mutex
	f    *os.File
	size int64
}

// Open opens (creating with mode 0600) the log at path. When a write would
// take it past maxBytes (0: DefaultMaxBytes) it is renamed to path.1, and
// earlier ones to path.2 ... path.keep (0: DefaultKeep); older ones go.
// Events are also logged to log if it is not nil.
func Open(path string, maxBytes int64, keep int, log *slog.Logger) (*Log, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	if keep <= 0 {
		keep = DefaultKeep
	}
	l := &Log{path: path, maxBytes: maxBytes, keep: keep, slog: log}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *Log) open() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open audit log: %w", err)
	}
	// A file created by an older run or by hand is made private too.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("audit log mode: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("audit log: %w", err)
	}
	l.f, l.size = f, fi.Size()
	return nil
}

// Record appends e, stamped now if it has no time.
func (l *Log) Record(e Event) {
	if l == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	line, err := json.Marshal(e)
	if err != nil {
		return // cannot happen: the fields are strings and numbers
	}
	line = append(line, '\n')
	if l.slog != nil {
		attrs := []any{"event", e.Event, "user", e.User, "via", e.Via, "session", e.Session}
		if e.Addr != "" {
			attrs = append(attrs, "addr", e.Addr)
		}
		if e.Guest != "" {
			attrs = append(attrs, "guest", e.Guest, "role", e.Role)
		}
		if e.Typed != nil {
			attrs = append(attrs, "typed", *e.Typed)
		}
		l.slog.Info("audit", attrs...)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return
	}
	if l.size > 0 && l.size+int64(len(line)) > l.maxBytes {
		if err := l.rotate(); err != nil && l.slog != nil {
			l.slog.Error("audit log rotation", "err", err)
		}
		if l.f == nil {
			return
		}
	}
	n, err := l.f.Write(line)
	l.size += int64(n)
	if err != nil && l.slog != nil {
		l.slog.Error("audit log write", "err", err)
	}
}

// rotate shifts path.N-1 to path.N ... path to path.1 and starts a new
// file. Called with l.mu held.
func (l *Log) rotate() error {
	l.f.Close()
	l.f = nil
	os.Remove(fmt.Sprintf("%s.%d", l.path, l.keep))
	for i := l.keep - 1; i >= 1; i-- {
		os.Rename(fmt.Sprintf("%s.%d", l.path, i), fmt.Sprintf("%s.%d", l.path, i+1))
	}
	if err := os.Rename(l.path, l.path+".1"); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("rotate audit log: %w", err)
	}
	return l.open()
}

// Close closes the file; later events go to the structured log only.
func (l *Log) Close() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
