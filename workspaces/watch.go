package workspaces

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
)

// File event types, as in file-changed.
const (
	FileCreated  = "created"
	FileModified = "modified"
	FileDeleted  = "deleted"
)

// FileEvent is one file-changed notification. Path is relative to the
// workspace root and slash-separated; directories get events too.
type FileEvent struct {
	Path string    `json:"path"`
	Type string    `json:"type"`
	Time time.Time `json:"timestamp"`
}

// WatchOptions configures a Watcher; zero values are the defaults.
type WatchOptions struct {
	// IgnoreDirs are directory names skipped wherever they occur; nil means
	// DefaultIgnoreDirs. ".git" is always skipped.
	IgnoreDirs []string
	// Window is how long events for one path are merged (default 100ms).
	Window time.Duration
	// PollInterval is the rescan period after inotify runs out (default 2s).
	PollInterval time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger

	// addWatch replaces fsnotify's Add in tests (to simulate ENOSPC).
	addWatch func(w *fsnotify.Watcher, dir string) error
	// limitLogged, shared by a Manager's watchers, makes running out of
	// inotify watches a single warning rather than one per workspace.
	limitLogged *atomic.Bool
}

// Watcher reports file changes under a directory tree. It watches every
// directory with inotify (fsnotify is not recursive on Linux), picks up new
// directories as they appear, and merges the bursts editors and tools
// produce into one event per path: created then written is "created",
// written then removed is "deleted", created then removed is nothing, and
// removed then created again is "modified".
//
// When the kernel refuses more watches (fs.inotify.max_user_watches, ENOSPC)
// the Watcher drops inotify, logs that once, and rescans the tree every
// PollInterval instead, deriving the same events from sizes and mtimes;
// Polling then reports true.
type Watcher struct {
	root   string
	opts   WatchOptions
	ignore map[string]bool
	log    *slog.Logger

	fsw     *fsnotify.Watcher
	events  chan FileEvent
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
	polling atomic.Bool

	// Owned by the run goroutine (and by NewWatcher before it starts).
	pending  map[string]*pendingEvent
	queue    []queued // pending paths in arrival order, so the head is due first
	timer    *time.Timer
	watched  map[string]bool // absolute paths of watched directories
	limitErr error           // set when inotify ran out; the watcher then polls
	ticker   *time.Ticker
	snapshot map[string]stamp
}

type pendingEvent struct {
	typ string
	due time.Time
}

type queued struct {
	path string
	due  time.Time
}

type stamp struct {
	size  int64
	mtime time.Time
	dir   bool
}

// NewWatcher starts watching root. Close stops it and closes Events.
func NewWatcher(root string, opts WatchOptions) (*Watcher, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(root); err != nil {
		return nil, fmt.Errorf("watch %s: %w", root, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("watch %s: not a directory", root)
	}
	if opts.IgnoreDirs == nil {
		opts.IgnoreDirs = DefaultIgnoreDirs
	}
	if opts.Window <= 0 {
		opts.Window = 100 * time.Millisecond
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 2 * time.Second
	}
	if opts.addWatch == nil {
		opts.addWatch = func(w *fsnotify.Watcher, dir string) error { return w.Add(dir) }
	}
	w := &Watcher{
		root:    root,
		opts:    opts,
		ignore:  map[string]bool{".git": true},
		log:     opts.Logger,
		events:  make(chan FileEvent, 256),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		pending: map[string]*pendingEvent{},
		watched: map[string]bool{},
		timer:   time.NewTimer(time.Hour),
	}
	w.timer.Stop()
	if w.log == nil {
		w.log = slog.Default()
	}
	for _, d := range opts.IgnoreDirs {
		w.ignore[d] = true
	}
	w.fsw, err = fsnotify.NewWatcher()
	if err != nil {
		// Out of inotify instances is the same situation as out of watches.
		if !isWatchLimit(err) {
			return nil, fmt.Errorf("watch %s: %w", root, err)
		}
		w.limitErr = err
	} else if err := w.addTree(root, false); err != nil {
		w.fsw.Close()
		return nil, fmt.Errorf("watch %s: %w", root, err)
	}
	if w.limitErr != nil {
		w.startPolling()
	}
	go w.run()
	return w, nil
}

// Events delivers the merged events. It is closed when the Watcher stops.
func (w *Watcher) Events() <-chan FileEvent { return w.events }

// Polling reports whether the Watcher has fallen back to rescanning.
func (w *Watcher) Polling() bool { return w.polling.Load() }

// Close stops the Watcher. Pending events are dropped.
func (w *Watcher) Close() error {
	w.once.Do(func() { close(w.stop) })
	<-w.done
	return nil
}

func isWatchLimit(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EMFILE)
}

// rel turns an absolute path into the event path; ok is false for the root
// itself and for anything inside an ignored directory.
func (w *Watcher) rel(abs string) (string, bool) {
	r, err := filepath.Rel(w.root, abs)
	if err != nil || r == "." || strings.HasPrefix(r, "..") {
		return "", false
	}
	r = filepath.ToSlash(r)
	for _, part := range strings.Split(r, "/") {
		if w.ignore[part] {
			return "", false
		}
	}
	return r, true
}

// addTree watches dir and every directory below it. With report set (a
// directory that just appeared) everything found inside is reported as
// created: files made between the mkdir and the new watch produced no
// inotify event, and an event seen twice merges into one. Running out of
// watches is recorded in limitErr; the walk still finishes for its reports.
func (w *Watcher) addTree(dir string, report bool) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p != dir && errors.Is(err, fs.ErrNotExist) {
				return nil // vanished while we walked
			}
			if report && errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		r, ok := w.rel(p)
		if p != dir && !ok {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if report && p != dir {
			w.record(r, FileCreated)
		}
		if !d.IsDir() || w.fsw == nil || w.limitErr != nil {
			return nil
		}
		if err := w.opts.addWatch(w.fsw, p); err != nil {
			switch {
			case isWatchLimit(err):
				w.limitErr = err
				return nil
			case errors.Is(err, fs.ErrNotExist):
				return filepath.SkipDir
			}
			return err
		}
		w.watched[p] = true
		return nil
	})
}

func (w *Watcher) run() {
	defer close(w.done)
	defer close(w.events)
	defer func() {
		if w.fsw != nil {
			w.fsw.Close()
		}
		if w.ticker != nil {
			w.ticker.Stop()
		}
		w.timer.Stop()
	}()
	for {
		var evs chan fsnotify.Event
		var errs chan error
		if w.fsw != nil {
			evs, errs = w.fsw.Events, w.fsw.Errors
		}
		var tick <-chan time.Time
		if w.ticker != nil {
			tick = w.ticker.C
		}
		select {
		case <-w.stop:
			return
		case ev, ok := <-evs:
			if ok && !w.handle(ev) {
				return
			}
		case err, ok := <-errs:
			if ok {
				// Overflow means lost events; there is nothing to replay, the
				// next change to each file will be reported as usual.
				w.log.Warn("file watcher error", "root", w.root, "err", err)
			}
		case <-w.timer.C:
			if !w.flush() {
				return
			}
		case <-tick:
			w.poll()
		}
		if w.limitErr != nil && w.ticker == nil {
			w.startPolling()
		}
	}
}

// handle processes one inotify event; it returns false when the watched
// root itself went away, which ends the Watcher.
func (w *Watcher) handle(ev fsnotify.Event) bool {
	if ev.Name == w.root && (ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename)) {
		w.log.Info("watched directory removed; watcher stops", "root", w.root)
		return false
	}
	r, ok := w.rel(ev.Name)
	if !ok {
		return true
	}
	switch {
	case ev.Has(fsnotify.Create):
		w.record(r, FileCreated)
		if fi, err := os.Lstat(ev.Name); err == nil && fi.IsDir() {
			if err := w.addTree(ev.Name, true); err != nil {
				w.log.Warn("watch new directory", "path", ev.Name, "err", err)
			}
		}
	case ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename):
		w.unwatch(ev.Name)
		w.record(r, FileDeleted)
	case ev.Has(fsnotify.Write):
		w.record(r, FileModified)
	}
	// Chmod alone (touch, chmod) is not a content change.
	return true
}

// unwatch forgets a directory that was removed or moved away, with
// everything below it. inotify drops watches of deleted directories by
// itself, but a moved directory keeps its watch and would go on reporting
// under its old name.
func (w *Watcher) unwatch(abs string) {
	if !w.watched[abs] {
		return
	}
	prefix := abs + string(filepath.Separator)
	for p := range w.watched {
		if p == abs || strings.HasPrefix(p, prefix) {
			delete(w.watched, p)
			if w.fsw != nil {
				_ = w.fsw.Remove(p) // already gone when deleted
			}
		}
	}
}

// record merges an event into the pending one for the same path.
func (w *Watcher) record(path, typ string) {
	now := time.Now()
	p := w.pending[path]
	if p == nil {
		p = &pendingEvent{typ: typ, due: now.Add(w.opts.Window)}
		w.pending[path] = p
		if len(w.queue) == 0 {
			w.timer.Reset(w.opts.Window)
		}
		w.queue = append(w.queue, queued{path, p.due})
		return
	}
	switch {
	case p.typ == FileCreated && typ == FileDeleted:
		delete(w.pending, path) // came and went: nothing to say
	case p.typ == FileCreated:
		// still new, however often it was written
	case p.typ == FileDeleted && typ != FileDeleted:
		p.typ = FileModified // replaced, as editors do on save
	default:
		p.typ = typ
	}
}

// flush delivers the events whose window has passed and re-arms the timer
// for the next one. It returns false when the watcher is stopping.
func (w *Watcher) flush() bool {
	now := time.Now()
	for len(w.queue) > 0 {
		q := w.queue[0]
		if q.due.After(now) {
			w.timer.Reset(q.due.Sub(now))
			return true
		}
		w.queue = w.queue[1:]
		p := w.pending[q.path]
		if p == nil || !p.due.Equal(q.due) {
			continue // dropped, or re-recorded later with its own entry
		}
		delete(w.pending, q.path)
		select {
		case w.events <- FileEvent{Path: q.path, Type: p.typ, Time: now}:
		case <-w.stop:
			return false
		}
	}
	w.queue = nil
	return true
}

// startPolling gives up on inotify for this tree.
func (w *Watcher) startPolling() {
	if w.fsw != nil {
		w.fsw.Close()
		w.fsw = nil
	}
	w.watched = map[string]bool{}
	w.polling.Store(true)
	level := slog.LevelWarn
	if w.opts.limitLogged != nil && w.opts.limitLogged.Swap(true) {
		level = slog.LevelDebug // the operator has been told once already
	}
	w.log.Log(context.Background(), level, "inotify watch limit reached; polling for file changes instead (raise fs.inotify.max_user_watches)",
		"root", w.root, "interval", w.opts.PollInterval, "err", w.limitErr)
	w.snapshot = w.scan()
	w.ticker = time.NewTicker(w.opts.PollInterval)
}

func (w *Watcher) scan() map[string]stamp {
	snap := map[string]stamp{}
	_ = filepath.WalkDir(w.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // unreadable or vanished: skip it this round
		}
		r, ok := w.rel(p)
		if !ok {
			if p != w.root && d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if fi, err := d.Info(); err == nil {
			snap[r] = stamp{size: fi.Size(), mtime: fi.ModTime(), dir: d.IsDir()}
		}
		return nil
	})
	return snap
}

func (w *Watcher) poll() {
	next := w.scan()
	for p, s := range next {
		old, ok := w.snapshot[p]
		switch {
		case !ok:
			w.record(p, FileCreated)
		case !s.dir && (s.size != old.size || !s.mtime.Equal(old.mtime)):
			w.record(p, FileModified)
		}
	}
	for p := range w.snapshot {
		if _, ok := next[p]; !ok {
			w.record(p, FileDeleted)
		}
	}
	w.snapshot = next
}
