package workspaces

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/codeterm/codeterm/internal/counter"
)

// Monitoring: how long clones and syncs take and how often they fail.

// OpClone names clones in Stats, beside OpPull, OpFetch and OpPush.
const OpClone = "clone"

var statOps = [...]string{OpClone, OpPull, OpFetch, OpPush}

type opCounters struct {
	once     sync.Once
	duration map[string]*counter.Histogram
	failed   map[string]*atomic.Uint64
}

func (c *opCounters) init() {
	c.once.Do(func() {
		c.duration = map[string]*counter.Histogram{}
		c.failed = map[string]*atomic.Uint64{}
		for _, op := range statOps {
			c.duration[op] = counter.NewHistogram(100*time.Millisecond, 250*time.Millisecond, 500*time.Millisecond,
				time.Second, 2500*time.Millisecond, 5*time.Second, 10*time.Second, 30*time.Second,
				time.Minute, 2*time.Minute, 5*time.Minute, 10*time.Minute)
			c.failed[op] = new(atomic.Uint64)
		}
	})
}

// observe records one operation that started at start. A cancelled one is
// neither a duration nor a failure.
func (c *opCounters) observe(ctx context.Context, op string, start time.Time, err error) {
	c.init()
	h := c.duration[op]
	if h == nil || ctx.Err() != nil {
		return
	}
	if err != nil {
		c.failed[op].Add(1)
		return
	}
	h.Observe(time.Since(start))
}

// OpStats are one operation's figures: durations of the successful ones,
// and the failures.
type OpStats struct {
	Duration counter.Snapshot
	Failures uint64
}

// Stats returns clone and sync figures by operation (OpClone, OpPull,
// OpFetch, OpPush).
func (m *Manager) Stats() map[string]OpStats {
	m.ops.init()
	out := make(map[string]OpStats, len(statOps))
	for _, op := range statOps {
		out[op] = OpStats{Duration: m.ops.duration[op].Snapshot(), Failures: m.ops.failed[op].Load()}
	}
	return out
}
