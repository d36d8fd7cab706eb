package webbridge

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/codeterm/codeterm/internal/idletest"
)

// BenchmarkIdleSocketHeap reports what the server keeps per idle attached
// Socket.IO connection: 200 clients, each with a terminal of its own
// (create-terminal, 120x40) whose prompt it has seen, then idle. The
// clients run in a child process (this test binary again), so the figures
// are the server's alone: the Go heap and goroutine stacks of the bridge,
// engineio and the session core, per connection and session, and the part
// of the heap the bridge (webbridge, socketio, engineio, and gorilla and
// net/http under them) allocated.
//
//	go test -run '^$' -bench IdleSocketHeap -benchtime 1x ./webbridge/
//
// With IDLE_HEAP_PROFILE=file it also writes a heap profile of every
// allocation still live (go tool pprof -sample_index=inuse_space).
func BenchmarkIdleSocketHeap(b *testing.B) {
	const n = 200
	defer idletest.ProfileEveryAllocation()()
	for b.Loop() {
		m := measureIdleSockets(b, n)
		b.ReportMetric(m.heap/1024, "heap-KiB/socket")
		b.ReportMetric(m.bridgeHeap/1024, "bridge-heap-KiB/socket")
		b.ReportMetric(m.stack/1024, "stack-KiB/socket")
		b.ReportMetric(m.goroutines, "goroutines/socket")
	}
}

// What the bridge keeps per idle attached socket: its client, the socket,
// the engine.io connection and gorilla's, the terminal view; the session
// core's share is not counted, one-off state (JSON type caches) is, spread
// over the 50. It was 11.6 KiB (a writer's scratch, a cloned request, a
// kept CONNECT message, a handler clone for the socket's log, a status map,
// a map for the socket's own room and one for its values, an expiry
// watcher ...), and is 7.5 KiB now.
func TestIdleSocketBridgeHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 50 shells")
	}
	defer idletest.ProfileEveryAllocation()()
	m := measureIdleSockets(t, 50)
	t.Logf("per idle socket: bridge heap %.0f B, heap %.0f B, stack %.0f B, %.2f goroutines",
		m.bridgeHeap, m.heap, m.stack, m.goroutines)
	if m.bridgeHeap > 9*1024 {
		t.Errorf("the bridge keeps %.0f B per idle socket, want at most 9 KiB", m.bridgeHeap)
	}
}

type idleMeasure struct {
	heap, bridgeHeap, stack float64 // bytes per socket
	goroutines              float64 // per socket
}

// measureIdleSockets opens n idle attached sockets from a child process
// and measures what they cost this one.
func measureIdleSockets(tb testing.TB, n int) idleMeasure {
	tb.Helper()
	e := newEnv(tb, envOptions{unlimited: true})
	tok := e.token(e.alice)
	var before, after runtime.MemStats
	settle := func(ms *runtime.MemStats) int64 {
		runtime.GC()
		runtime.GC() // and what sync.Pools kept through the first
		runtime.ReadMemStats(ms)
		return liveHeapOfBridge()
	}
	bridge0 := settle(&before)
	g0 := runtime.NumGoroutine()

	stop := idletest.StartClients(tb, "TestIdleClientsChild", []string{"IDLE_CHILD_URL=" + e.ts.URL,
		"IDLE_CHILD_TOKEN=" + tok, "IDLE_CHILD_WS=" + e.aliceWS.ID, "IDLE_CHILD_N=" + strconv.Itoa(n)}, "idle-clients-ready")
	defer stop()
	// Idle: what the set-up left running winds down (writers leave after
	// their grace, output relays after relayIdle, status debounces fire).
	time.Sleep(relayIdle + time.Second)
	bridge1 := settle(&after)
	g1 := runtime.NumGoroutine()
	if p := os.Getenv("IDLE_HEAP_PROFILE"); p != "" {
		idletest.WriteHeapProfile(tb, p)
	}
	return idleMeasure{
		heap:       float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n),
		bridgeHeap: float64(bridge1-bridge0) / float64(n),
		stack:      float64(int64(after.StackInuse)-int64(before.StackInuse)) / float64(n),
		goroutines: float64(g1-g0) / float64(n),
	}
}

// liveHeapOfBridge sums the live bytes of the heap profile whose innermost
// codeterm function is the bridge's: what the bridge allocated itself or
// through gorilla and net/http, not what it asked the session core for.
func liveHeapOfBridge() int64 {
	return idletest.LiveHeap(func(fn string) (string, bool) {
		if !strings.HasPrefix(fn, "github.com/codeterm/codeterm/") {
			return "", false
		}
		if strings.HasPrefix(fn, "github.com/codeterm/codeterm/webbridge") {
			return "bridge", true
		}
		return "", true // the session core's, or another package's
	})["bridge"]
}

// TestIdleClientsChild is BenchmarkIdleSocketHeap's client process; it
// does nothing in an ordinary run.
func TestIdleClientsChild(t *testing.T) {
	url := os.Getenv("IDLE_CHILD_URL")
	if url == "" {
		t.Skip("the client half of BenchmarkIdleSocketHeap")
	}
	n, _ := strconv.Atoi(os.Getenv("IDLE_CHILD_N"))
	e := &testEnv{t: t, ts: &httptest.Server{URL: url}}
	for range n {
		c := e.dial(os.Getenv("IDLE_CHILD_TOKEN"))
		id := c.createTerminal(os.Getenv("IDLE_CHILD_WS"))
		c.waitFor("the prompt", func() bool {
			c.mu.Unlock()
			defer c.mu.Lock()
			return strings.TrimSpace(c.output(id, 0)) != ""
		})
	}
	idletest.WaitForClients("idle-clients-ready")
}

// countingHandler counts the handler clones made With attributes, and
// keeps the records.
type countingHandler struct {
	slog.Handler
	mu      *sync.Mutex
	clones  *int
	records *[]slog.Record
}

func (h countingHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h countingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	*h.records = append(*h.records, r.Clone())
	h.mu.Unlock()
	return nil
}

func (h countingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	h.mu.Lock()
	*h.clones++
	h.mu.Unlock()
	return h
}

// A socket's log records carry its user and socket id, without a logger
// (a clone of the handler) kept for each socket.
func TestSocketLogNoClone(t *testing.T) {
	var mu sync.Mutex
	clones := 0
	var records []slog.Record
	h := countingHandler{Handler: slog.DiscardHandler, mu: &mu, clones: &clones, records: &records}
	e := newEnv(t, envOptions{log: slog.New(h)})
	tok := e.token(e.alice)
	mu.Lock()
	before := clones // the socket server's own, made once
	mu.Unlock()
	for range 3 {
		e.dial(tok)
	}
	found := 0
	deadline := time.Now().Add(testTimeout)
	for found < 3 && time.Now().Before(deadline) {
		mu.Lock()
		found = 0
		for _, r := range records {
			if r.Message != "socket connected" {
				continue
			}
			attrs := map[string]string{}
			r.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
			if attrs["user"] == "alice" && attrs["socket"] != "" && attrs["transport"] == "websocket" {
				found++
			}
		}
		mu.Unlock()
		time.Sleep(time.Millisecond)
	}
	if found != 3 {
		t.Fatalf("%d of 3 connections logged with user and socket", found)
	}
	mu.Lock()
	defer mu.Unlock()
	if clones != before {
		t.Fatalf("%d handler clones for 3 sockets", clones-before)
	}
}

// statusSums tells a change from a repeat, per session.
func TestStatusSums(t *testing.T) {
	var s statusSums
	for _, c := range []struct {
		id   string
		sum  uint64
		want bool
	}{{"a", 1, true}, {"a", 1, false}, {"b", 1, true}, {"a", 2, true}, {"b", 1, false}, {"a", 2, false}, {"a", 1, true}} {
		if got := s.set(c.id, c.sum); got != c.want {
			t.Fatalf("set(%s, %d) = %v, want %v", c.id, c.sum, got, c.want)
		}
	}
	if len(s) != 2 {
		t.Fatalf("%d entries for 2 sessions", len(s))
	}
}
