package auth

import (
	"sync"
	"time"
)

// Limiter allows a number of events per key (a source address) per minute,
// as a token bucket that refills continuously.
type Limiter struct {
	PerMinute int
	Now       func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// NewLimiter allows perMinute events per key.
func NewLimiter(perMinute int) *Limiter {
	return &Limiter{PerMinute: perMinute, Now: time.Now, buckets: map[string]*bucket{}}
}

// Allow takes one event for key and reports whether it is within the limit.
func (l *Limiter) Allow(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.Now()
	rate := float64(l.PerMinute) / float64(time.Minute)
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) > 10000 {
			l.prune(now, rate)
		}
		b = &bucket{tokens: float64(l.PerMinute), last: now}
		l.buckets[key] = b
	}
	b.tokens += float64(now.Sub(b.last)) * rate
	if b.tokens > float64(l.PerMinute) {
		b.tokens = float64(l.PerMinute)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// prune forgets full buckets so a scan of many addresses cannot grow the map without bound.
func (l *Limiter) prune(now time.Time, rate float64) {
	for k, b := range l.buckets {
		if b.tokens+float64(now.Sub(b.last))*rate >= float64(l.PerMinute) {
			delete(l.buckets, k)
		}
	}
}
