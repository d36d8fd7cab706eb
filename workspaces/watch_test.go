package workspaces

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
)

// collector reads a subscription and waits for specific events, with a
// deadline instead of sleeps.
type collector struct {
	t    *testing.T
	ch   <-chan FileEvent
	seen []FileEvent
}

func (c *collector) waitFor(path, typ string) {
	c.t.Helper()
	for _, ev := range c.seen { // events for several paths may come in any order
		if ev.Path == path && ev.Type == typ {
			return
		}
	}
	deadline := time.After(15 * time.Second)
	for {
		select {
		case ev, ok := <-c.ch:
			if !ok {
				c.t.Fatalf("events closed while waiting for %s %s; seen %+v", typ, path, c.seen)
			}
			c.seen = append(c.seen, ev)
			if ev.Path == path && ev.Type == typ {
				return
			}
		case <-deadline:
			c.t.Fatalf("no %s event for %s; seen %+v", typ, path, c.seen)
		}
	}
}

func (c *collector) first(path string) (FileEvent, bool) {
	for _, ev := range c.seen {
		if ev.Path == path {
			return ev, true
		}
	}
	return FileEvent{}, false
}

func watchEmpty(t *testing.T, e *env) (dir string, c *collector, sub *Subscription) {
	t.Helper()
	ctx := context.Background()
	ws, err := e.m.Create(ctx, e.user, CreateOptions{Name: "w"})
	if err != nil {
		t.Fatal(err)
	}
	sub, err = e.m.Watch(ctx, e.user.ID, ws.ID)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sub.Close)
	return ws.LocalPath, &collector{t: t, ch: sub.Events()}, sub
}

func TestWatchEvents(t *testing.T) {
	e := newEnv(t)
	dir, c, sub := watchEmpty(t, e)
	if sub.Polling() {
		t.Fatal("polling from the start")
	}
	write := func(name, content string) { writeFiles(t, dir, map[string]string{name: content}) }

	write("a.txt", "one")
	c.waitFor("a.txt", FileCreated)
	if ev, _ := c.first("a.txt"); ev.Type != FileCreated || ev.Time.IsZero() {
		t.Errorf("first event for a.txt = %+v", ev)
	}

	write("a.txt", "two")
	c.waitFor("a.txt", FileModified)

	// mkdir and a file inside at once: the file exists before the new
	// directory's watch does, so only the scan after adding it can see it.
	if err := os.MkdirAll(filepath.Join(dir, "newdir", "deeper"), 0o755); err != nil {
		t.Fatal(err)
	}
	write("newdir/deeper/inner.txt", "x")
	c.waitFor("newdir/deeper/inner.txt", FileCreated)
	// The new directory is watched too.
	write("newdir/later.txt", "y")
	c.waitFor("newdir/later.txt", FileCreated)

	// Ignored trees produce nothing: they happen before the sentinel, so any
	// event for them would have been delivered before it.
	write("node_modules/pkg/index.js", "x")
	write("sub/dist/bundle.js", "x")
	write(".git/scratch", "x")
	write(".venv/bin/python", "x")
	write("sentinel.txt", "s")
	c.waitFor("sentinel.txt", FileCreated)
	for _, ev := range c.seen {
		for _, bad := range []string{"node_modules", "dist", ".git", ".venv"} {
			if strings.Contains("/"+ev.Path+"/", "/"+bad+"/") {
				t.Errorf("event from ignored dir: %+v", ev)
			}
		}
	}

	if err := os.Remove(filepath.Join(dir, "a.txt")); err != nil {
		t.Fatal(err)
	}
	c.waitFor("a.txt", FileDeleted)

	if err := os.RemoveAll(filepath.Join(dir, "newdir")); err != nil {
		t.Fatal(err)
	}
	c.waitFor("newdir/later.txt", FileDeleted)
	c.waitFor("newdir", FileDeleted)

	// A directory moved away stops reporting under its old name.
	write("moving/f.txt", "1")
	c.waitFor("moving/f.txt", FileCreated)
	if err := os.Rename(filepath.Join(dir, "moving"), filepath.Join(dir, "moved")); err != nil {
		t.Fatal(err)
	}
	c.waitFor("moving", FileDeleted)
	c.waitFor("moved", FileCreated)
	write("moved/g.txt", "2")
	c.waitFor("moved/g.txt", FileCreated)
	for _, ev := range c.seen {
		if ev.Path == "moving/g.txt" {
			t.Errorf("event under the old name: %+v", ev)
		}
	}
}

func TestWatchCoalescing(t *testing.T) {
	w := &Watcher{
		opts:    WatchOptions{Window: time.Hour},
		pending: map[string]*pendingEvent{},
		events:  make(chan FileEvent, 16),
		stop:    make(chan struct{}),
		timer:   time.NewTimer(time.Hour),
	}
	steps := map[string][]string{
		"created-written":  {FileCreated, FileModified, FileModified},
		"written-removed":  {FileModified, FileDeleted},
		"created-removed":  {FileCreated, FileDeleted},
		"removed-created":  {FileDeleted, FileCreated},
		"removed-written":  {FileDeleted, FileModified},
		"written":          {FileModified, FileModified},
		"created-twice":    {FileCreated, FileCreated},
		"came-went-came":   {FileCreated, FileDeleted, FileCreated},
		"deleted-repeated": {FileDeleted, FileDeleted},
	}
	want := map[string]string{
		"created-written":  FileCreated,
		"written-removed":  FileDeleted,
		"removed-created":  FileModified,
		"removed-written":  FileModified,
		"written":          FileModified,
		"created-twice":    FileCreated,
		"came-went-came":   FileCreated,
		"deleted-repeated": FileDeleted,
	}
	for p, evs := range steps {
		for _, typ := range evs {
			w.record(p, typ)
		}
	}
	for _, q := range w.queue { // make everything due now
		if p := w.pending[q.path]; p != nil && p.due.Equal(q.due) {
			p.due = time.Time{}
		}
	}
	for i := range w.queue {
		w.queue[i].due = time.Time{}
	}
	w.flush()
	close(w.events)
	got := map[string]string{}
	for ev := range w.events {
		if _, dup := got[ev.Path]; dup {
			t.Errorf("two events for %s", ev.Path)
		}
		got[ev.Path] = ev.Type
	}
	for p, typ := range want {
		if got[p] != typ {
			t.Errorf("%s: got %q, want %q", p, got[p], typ)
		}
	}
	if _, ok := got["created-removed"]; ok {
		t.Error("created-then-removed produced an event")
	}
}

func TestWatchFallsBackToPolling(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.PollInterval = 20 * time.Millisecond })
	adds := 0
	e.m.addWatch = func(w *fsnotify.Watcher, dir string) error {
		if adds++; adds > 1 { // the root gets a watch, nothing else
			return syscall.ENOSPC
		}
		return w.Add(dir)
	}
	ctx := context.Background()
	ws, err := e.m.Create(ctx, e.user, CreateOptions{Name: "w"})
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, ws.LocalPath, map[string]string{"sub/existing.txt": "1"})
	sub, err := e.m.Watch(ctx, e.user.ID, ws.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if !sub.Polling() {
		t.Fatal("not polling after ENOSPC")
	}
	c := &collector{t: t, ch: sub.Events()}
	writeFiles(t, ws.LocalPath, map[string]string{"new.txt": "n", "sub/deeper/f.txt": "f", "node_modules/m.js": "m"})
	c.waitFor("new.txt", FileCreated)
	c.waitFor("sub/deeper/f.txt", FileCreated)
	writeFiles(t, ws.LocalPath, map[string]string{"sub/existing.txt": "changed size"})
	c.waitFor("sub/existing.txt", FileModified)
	os.Remove(filepath.Join(ws.LocalPath, "new.txt"))
	c.waitFor("new.txt", FileDeleted)
	for _, ev := range c.seen {
		if strings.HasPrefix(ev.Path, "node_modules") {
			t.Errorf("polling reported ignored %+v", ev)
		}
	}
}

func TestWatchSubscriptionsShareOneWatcher(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ws, err := e.m.Create(ctx, e.user, CreateOptions{Name: "w"})
	if err != nil {
		t.Fatal(err)
	}
	s1, err := e.m.Watch(ctx, e.user.ID, ws.ID)
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	s2, err := e.m.Watch(cctx, e.user.ID, ws.ID)
	if err != nil {
		t.Fatal(err)
	}
	e.m.mu.Lock()
	n, sw := len(e.m.watches), e.m.watches[ws.ID]
	e.m.mu.Unlock()
	if n != 1 || s1.sw != sw || s2.sw != sw {
		t.Fatalf("%d watchers", n)
	}
	writeFiles(t, ws.LocalPath, map[string]string{"a": "a"})
	(&collector{t: t, ch: s1.Events()}).waitFor("a", FileCreated)
	(&collector{t: t, ch: s2.Events()}).waitFor("a", FileCreated)

	cancel() // ends s2 only
	for range s2.Events() {
	}
	writeFiles(t, ws.LocalPath, map[string]string{"b": "b"})
	(&collector{t: t, ch: s1.Events()}).waitFor("b", FileCreated)

	s1.Close()
	s1.Close()
	e.m.mu.Lock()
	n = len(e.m.watches)
	e.m.mu.Unlock()
	if n != 0 {
		t.Fatal("watcher still running after the last Close")
	}
	select {
	case <-sw.w.done:
	case <-time.After(10 * time.Second):
		t.Fatal("watcher goroutine did not stop")
	}

	if _, err := e.m.Watch(ctx, "another-user", ws.ID); Code(err) != "WORKSPACE_NOT_FOUND" {
		t.Fatalf("watch another user's workspace: %v", err)
	}
}

func TestWatchEndsWhenDirectoryVanishes(t *testing.T) {
	e := newEnv(t)
	dir, c, _ := watchEmpty(t, e)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(15 * time.Second)
	for {
		select {
		case _, ok := <-c.ch:
			if !ok {
				e.m.mu.Lock()
				n := len(e.m.watches)
				e.m.mu.Unlock()
				if n != 0 {
					t.Fatal("dead watcher still registered")
				}
				return
			}
		case <-deadline:
			t.Fatal("subscription still open after the workspace directory was removed")
		}
	}
}
