package auth

import (
	"sync"
	"time"
)

// Throttle slows down failed authentications, as OpenSSH's per-source
// penalties do, without ever refusing good credentials: each failure is
// counted under its keys (a source address, an attempted user name) in a
// bucket that drains at Free per minute, and once a bucket holds more than
// Free the answer to a failure is held back, twice as long for each
// failure more, up to Max. A success is never counted or held, so an
// outsider sharing an address (NAT, a proxy) slows only failures down.
type Throttle struct {
	Free int           // failures per minute per key answered at once
	Base time.Duration // hold of the first failure over Free
	Max  time.Duration // longest hold
	Now  func() time.Time

	mu      sync.Mutex
	buckets map[string]*leak
}

type leak struct {
	level float64
	last  time.Time
}

// NewThrottle answers free failures per minute per key at once, then holds
// each further one from half a second, doubling, up to ten seconds.
func NewThrottle(free int) *Throttle {
	return &Throttle{Free: free, Base: 500 * time.Millisecond, Max: 10 * time.Second, Now: time.Now, buckets: map[string]*leak{}}
}

// Fail counts one failure under each key and returns how long to hold its
// answer: the longest any key asks for.
func (t *Throttle) Fail(keys ...string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.Now()
	if t.buckets == nil {
		t.buckets = map[string]*leak{}
	}
	if len(t.buckets) > 10000 {
		t.prune(now)
	}
	var worst float64
	for _, k := range keys {
		b := t.buckets[k]
		if b == nil {
			b = &leak{last: now}
			t.buckets[k] = b
		}
		b.level = t.drained(b, now) + 1
		b.last = now
		worst = max(worst, b.level-float64(t.Free))
	}
	return t.hold(worst)
}

// Hold is what Fail would return for keys, without counting a failure.
func (t *Throttle) Hold(keys ...string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.Now()
	var worst float64
	for _, k := range keys {
		if b := t.buckets[k]; b != nil {
			worst = max(worst, t.drained(b, now)+1-float64(t.Free))
		}
	}
	return t.hold(worst)
}

func (t *Throttle) hold(excess float64) time.Duration {
	if excess <= 0 {
		return 0
	}
	d := t.Base
	for i := 1; float64(i) < excess && d < t.Max; i++ {
		d *= 2
	}
	return min(d, t.Max)
}

func (t *Throttle) drained(b *leak, now time.Time) float64 {
	rate := float64(t.Free) / float64(time.Minute)
	return max(0, b.level-float64(now.Sub(b.last))*rate)
}

// prune forgets empty buckets so a scan of many addresses or names cannot
// grow the map without bound.
func (t *Throttle) prune(now time.Time) {
	for k, b := range t.buckets {
		if t.drained(b, now) == 0 {
			delete(t.buckets, k)
		}
	}
}
