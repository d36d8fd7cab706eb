// Package counter holds lock-free monitoring counters that the data path can
// bump without allocating and a scrape reads as a snapshot.
package counter

import (
	"math"
	"sync/atomic"
	"time"
)

// Histogram counts durations into fixed buckets with atomics.
type Histogram struct {
	bounds []time.Duration
	counts []atomic.Uint64 // per bucket, not cumulative; the last is +Inf
	sumNs  atomic.Uint64
}

// NewHistogram makes a histogram with these upper bounds, ascending.
func NewHistogram(bounds ...time.Duration) *Histogram {
	return &Histogram{bounds: bounds, counts: make([]atomic.Uint64, len(bounds)+1)}
}

// Observe counts one duration.
func (h *Histogram) Observe(d time.Duration) {
	i := len(h.bounds)
	for j, b := range h.bounds {
		if d <= b {
			i = j
			break
		}
	}
	h.counts[i].Add(1)
	h.sumNs.Add(uint64(max(d, 0)))
}

// Snapshot is a histogram's state at one moment.
type Snapshot struct {
	Bounds     []time.Duration // upper bounds
	Cumulative []uint64        // observations <= each bound
	Count      uint64
	Sum        time.Duration
}

// Snapshot reads the histogram. Concurrent observations may land in the
// count and not yet in the sum, which no reader can tell from a later read.
func (h *Histogram) Snapshot() Snapshot {
	out := Snapshot{Bounds: h.bounds, Cumulative: make([]uint64, len(h.bounds))}
	var run uint64
	for i := range h.bounds {
		run += h.counts[i].Load()
		out.Cumulative[i] = run
	}
	out.Count = run + h.counts[len(h.bounds)].Load()
	out.Sum = time.Duration(min(h.sumNs.Load(), math.MaxInt64))
	return out
}
