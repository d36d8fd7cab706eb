// Package memory keeps the server's memory near what it needs: a soft limit
// for the Go heap, and the memory a burst freed given back to the system once
// the server goes quiet, instead of minutes later (an idle Go program collects
// only every two minutes, and returns freed pages slowly after that).
package memory

import (
	"context"
	"log/slog"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// SetLimit sets the Go runtime's soft memory limit to bytes; 0 leaves the
// runtime's own (GOMEMLIMIT, or none). Near the limit the collector runs more
// often; it never fails an allocation.
func SetLimit(bytes int64) {
	if bytes > 0 {
		debug.SetMemoryLimit(bytes)
	}
}

// SetGCPercent sets how far the heap may grow past its live data before
// the collector runs, unless GOGC is set in the environment, which the
// runtime has already applied and the operator meant.
func SetGCPercent(percent int) {
	if _, set := os.LookupEnv("GOGC"); !set && percent > 0 {
		debug.SetGCPercent(percent)
	}
}

const (
	// burstBytes is how much must have been allocated since the last trim
	// for there to be anything worth giving back.
	burstBytes = 32 << 20
	// quietRate is the allocation rate, in bytes per second, under which
	// the server counts as quiet: a few idle sessions and heartbeats.
	quietRate = 1 << 20
)

// Trimmer gives freed memory back to the system once per burst: when at
// least burstBytes were allocated since it last did, and allocation has then
// stayed under quietRate for Idle.
type Trimmer struct {
	// Idle is how long the server must be quiet; 0 disables the trimmer.
	Idle time.Duration
	Log  *slog.Logger

	// allocs and free are the runtime's, replaced in tests.
	allocs func() uint64
	free   func()

	last      uint64    // allocs at the previous step
	lastAt    time.Time // time of the previous step
	activeAt  time.Time // last step that was not quiet
	sinceTrim uint64    // bytes allocated since the last trim
}

// Run samples allocation until ctx is done.
func (t *Trimmer) Run(ctx context.Context) {
	if t.Idle <= 0 {
		return
	}
	if t.allocs == nil {
		t.allocs = heapAllocs
	}
	if t.free == nil {
		t.free = debug.FreeOSMemory
	}
	if t.Log == nil {
		t.Log = slog.Default()
	}
	tick := time.NewTicker(max(t.Idle/4, 100*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			t.step(now)
		}
	}
}

// step takes one sample and trims if a burst has been followed by Idle of
// quiet; it reports whether it trimmed.
func (t *Trimmer) step(now time.Time) bool {
	// The first sample counts everything since the program started:
	// start-up is a burst too.
	a := t.allocs()
	delta := a - t.last
	elapsed := now.Sub(t.lastAt).Seconds()
	first := t.lastAt.IsZero()
	t.last, t.lastAt = a, now
	t.sinceTrim += delta
	if first || elapsed <= 0 || float64(delta)/elapsed >= quietRate {
		t.activeAt = now
		return false
	}
	if t.sinceTrim < burstBytes || now.Sub(t.activeAt) < t.Idle {
		return false
	}
	start := time.Now()
	t.free()
	t.Log.Debug("memory: idle after a burst, freed memory returned", "allocated", t.sinceTrim, "took", time.Since(start))
	t.sinceTrim = 0
	return true
}

// heapAllocs is the bytes allocated on the heap since the program started.
func heapAllocs() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
