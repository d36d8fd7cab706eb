package memory

import (
	"context"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"testing"
	"time"
)

// The trimmer frees once after a burst followed by Idle of quiet, not during
// the burst, not while quiet without a burst, and not twice for one burst.
func TestTrimmerOncePerBurst(t *testing.T) {
	var allocs uint64
	frees := 0
	tr := &Trimmer{Idle: 10 * time.Second, allocs: func() uint64 { return allocs }, free: func() { frees++ }}
	tr.Log = discard()
	now := time.Unix(1, 0)
	step := func(d time.Duration, alloc uint64) bool {
		now = now.Add(d)
		allocs += alloc
		return tr.step(now)
	}
	step(0, 0)
	for range 60 { // start-up is a burst too
		step(time.Second, 1000)
	}
	for range 60 { // quiet, no burst: nothing to give back
		if step(time.Second, 1000) {
			t.Fatal("freed with no burst")
		}
	}
	for range 10 { // a burst: 10 MiB/s for 10 s
		if step(time.Second, 10<<20) {
			t.Fatal("freed during the burst")
		}
	}
	for i := range 9 {
		if step(time.Second, 1000) {
			t.Fatalf("freed %d s into the quiet, before Idle", i+1)
		}
	}
	if !step(2*time.Second, 1000) {
		t.Fatal("not freed after Idle of quiet following the burst")
	}
	for range 60 {
		step(time.Second, 1000)
	}
	if frees != 1 {
		t.Fatalf("%d frees for one burst, want 1", frees)
	}
}

// Run, on the real runtime, gives a burst's garbage back to the system.
func TestTrimmerReturnsMemory(t *testing.T) {
	var freed atomic.Int32
	released := make(chan uint64, 1)
	tr := &Trimmer{Idle: 200 * time.Millisecond, Log: discard(), free: func() {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		debug.FreeOSMemory()
		runtime.ReadMemStats(&after)
		if freed.Add(1) == 1 {
			released <- after.HeapReleased - min(before.HeapReleased, after.HeapReleased)
		}
	}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go tr.Run(ctx)
	var keep [][]byte
	for range 64 {
		keep = append(keep, make([]byte, 1<<20))
	}
	for _, b := range keep {
		b[0] = 1
	}
	keep = nil
	select {
	case n := <-released:
		t.Logf("%d MiB returned to the system", n>>20)
		if n < 32<<20 {
			t.Fatalf("only %d bytes returned after a 64 MiB burst", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the burst's memory was not returned")
	}
	_ = keep
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// The configured percent is the collector's, unless the environment set
// GOGC, which the runtime applied before main ran.
func TestSetGCPercent(t *testing.T) {
	was := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(was) })

	t.Setenv("GOGC", "") // restores the environment at the end
	os.Unsetenv("GOGC")
	SetGCPercent(37)
	if got := debug.SetGCPercent(100); got != 37 {
		t.Errorf("without GOGC: percent %d, want 37", got)
	}

	t.Setenv("GOGC", "100")
	SetGCPercent(37)
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC=100 in the environment: percent %d, want 100", got)
	}
}
