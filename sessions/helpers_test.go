package sessions

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/codeterm/codeterm/store"
)

// waitTimeout bounds every wait for output; generous for -race on 2 cores.
const waitTimeout = 20 * time.Second

type testEnv struct {
	t     *testing.T
	m     *Manager
	st    *store.Store
	user  *store.User
	ws    []*store.Workspace
	home  string
	other *store.User
}

// newTestEnv opens a store with a user (and a second one) owning two
// workspaces, and a manager over it that is shut down at the end.
func newTestEnv(t *testing.T, cfg Config) *testEnv {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, filepath.Join(dir, "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	e := &testEnv{t: t, st: st, home: filepath.Join(dir, "home")}
	if err := os.Mkdir(e.home, 0o700); err != nil {
		t.Fatal(err)
	}
	if e.user, err = st.CreateUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if e.other, err = st.CreateUser(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		wdir := filepath.Join(dir, fmt.Sprintf("ws%d", i))
		os.Mkdir(wdir, 0o700)
		w := &store.Workspace{UserID: e.user.ID, Name: fmt.Sprintf("w%d", i), LocalPath: wdir}
		if err := st.CreateWorkspace(ctx, w); err != nil {
			t.Fatal(err)
		}
		e.ws = append(e.ws, w)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	e.m = NewManager(cfg, st, log)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := e.m.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		st.Close()
	})
	return e
}

// opts describes a predictable /bin/sh session in workspace i.
func (e *testEnv) opts(i int) SpawnOptions {
	return SpawnOptions{
		UserID: e.user.ID, WorkspaceID: e.ws[i].ID, Dir: e.ws[i].LocalPath,
		Shell: "sh", Home: e.home, User: "alice", Cols: 80, Rows: 24,
	}
}

func (e *testEnv) create(i int) *Session {
	e.t.Helper()
	s, err := e.m.Create(context.Background(), e.opts(i))
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func attach(t *testing.T, s *Session, o AttachOptions) *Attachment {
	t.Helper()
	a, err := s.Attach(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

// collector reads an attachment as fast as it can, keeping copies.
type collector struct {
	t        *testing.T
	a        *Attachment
	mu       sync.Mutex
	all      []byte // output and repaints, in order
	stream   []byte // output only
	firstSeq int64  // Seq before the first output chunk collected
	lastSeq  int64
	chunks   []Chunk
	exit     *Chunk
	err      error
	changed  chan struct{}
	done     chan struct{}
}

func collect(t *testing.T, a *Attachment) *collector {
	c := &collector{t: t, a: a, changed: make(chan struct{}), done: make(chan struct{}), firstSeq: -1}
	go c.run()
	return c
}

func (c *collector) run() {
	defer close(c.done)
	for {
		ch, err := c.a.Next(context.Background())
		c.mu.Lock()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				c.err = err
			}
			close(c.changed)
			c.mu.Unlock()
			return
		}
		ch.Data = bytes.Clone(ch.Data)
		c.chunks = append(c.chunks, ch)
		switch ch.Kind {
		case ChunkOutput:
			if c.firstSeq < 0 {
				c.firstSeq = ch.Seq - int64(len(ch.Data))
			}
			c.stream = append(c.stream, ch.Data...)
			c.all = append(c.all, ch.Data...)
		case ChunkRepaint:
			c.all = append(c.all, ch.Data...)
		case ChunkExit:
			c.exit = &ch
		}
		if ch.Kind != ChunkQuery {
			c.lastSeq = ch.Seq
		}
		close(c.changed)
		c.changed = make(chan struct{})
		c.mu.Unlock()
	}
}

// waitFor waits until the collected output contains want.
func (c *collector) waitFor(want string) {
	c.t.Helper()
	c.waitUntil("output "+fmt.Sprintf("%q", want), func() bool { return bytes.Contains(c.all, []byte(want)) })
}

// waitUntil waits, without polling, until cond (called with c.mu held) holds.
func (c *collector) waitUntil(what string, cond func() bool) {
	c.t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		if cond() {
			c.mu.Unlock()
			return
		}
		ch := c.changed
		tail := c.all[max(0, len(c.all)-300):]
		c.mu.Unlock()
		select {
		case <-ch:
			select {
			case <-c.done:
				c.mu.Lock()
				ok := cond()
				c.mu.Unlock()
				if !ok {
					c.t.Fatalf("attachment ended (err %v) before %s; output ends %q", c.err, what, tail)
				}
				return
			default:
			}
		case <-deadline.C:
			c.t.Fatalf("timed out waiting for %s; output ends %q", what, tail)
		}
	}
}

// waitExit waits for the exit chunk and the end of the attachment.
func (c *collector) waitExit() Chunk {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(waitTimeout):
		c.t.Fatalf("no exit; output ends %q", c.snapshot()[max(0, len(c.snapshot())-300):])
	}
	if c.err != nil {
		c.t.Fatalf("attachment error: %v", c.err)
	}
	if c.exit == nil {
		c.t.Fatal("ended without an exit chunk")
	}
	return *c.exit
}

func (c *collector) snapshot() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.all)
}

func (c *collector) streamCopy() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.stream)
}

func (c *collector) kinds(k ChunkKind) []Chunk {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Chunk
	for _, ch := range c.chunks {
		if ch.Kind == k {
			out = append(out, ch)
		}
	}
	return out
}

func input(t *testing.T, a *Attachment, s string) {
	t.Helper()
	if _, err := a.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
}

func waitDone(t *testing.T, s *Session) {
	t.Helper()
	select {
	case <-s.Done():
	case <-time.After(waitTimeout):
		t.Fatal("session did not end")
	}
}

// chunk0 waits for and returns the first chunk.
func (c *collector) chunk0() Chunk {
	c.t.Helper()
	c.waitUntil("a first chunk", func() bool { return len(c.chunks) > 0 })
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.chunks[0]
}

// seqs returns the offsets before the first and after the last output.
func (c *collector) seqs() (first, last int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.firstSeq, c.lastSeq
}

// waitABit paces a poll of something that is not output (the process table).
func waitABit() { time.Sleep(10 * time.Millisecond) }

// neverLag lets a test's reader fall arbitrarily far behind: on a loaded
// 2-core machine a test goroutine can be descheduled long enough for a
// fast producer to fill any realistic queue, which is the behaviour under
// test elsewhere but noise here.
func neverLag(a *Attachment) *Attachment {
	a.mu.Lock()
	a.maxQueue = 1 << 30
	a.mu.Unlock()
	return a
}
