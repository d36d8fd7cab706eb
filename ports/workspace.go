package ports

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/codeterm/codeterm/sessions"
)

// Finder finds the ports of workspaces through their sessions, caching each
// answer for a moment so that a burst of callers (a page's requests through
// the preview) costs one scan.
type Finder struct {
	Sessions *sessions.Manager
	// MaxAge is how long an answer is reused (default 1s).
	MaxAge time.Duration

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	at    time.Time
	ports []Port
}

// Ports lists what the user's sessions in the workspace listen on. Only the
// user's own sessions are scanned, so another user's ports never appear.
func (f *Finder) Ports(userID, workspaceID string) ([]Port, error) {
	key := userID + "\x00" + workspaceID
	maxAge := f.MaxAge
	if maxAge <= 0 {
		maxAge = time.Second
	}
	f.mu.Lock()
	c, ok := f.cache[key]
	f.mu.Unlock()
	if ok && time.Since(c.at) < maxAge {
		return c.ports, nil
	}
	ps, err := f.scan(userID, workspaceID)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	if f.cache == nil {
		f.cache = map[string]cached{}
	}
	for k, c := range f.cache { // keep the cache to the workspaces in use
		if time.Since(c.at) > 10*maxAge {
			delete(f.cache, k)
		}
	}
	f.cache[key] = cached{at: time.Now(), ports: ps}
	f.mu.Unlock()
	return ps, nil
}

func (f *Finder) scan(userID, workspaceID string) ([]Port, error) {
	if f.Sessions == nil {
		return []Port{}, nil
	}
	var pids []int
	for _, s := range f.Sessions.List(userID, workspaceID) {
		pids = append(pids, s.PIDs()...)
	}
	return Listening(pids)
}

// Lookup returns the workspace's listener on port, if there is one.
func (f *Finder) Lookup(userID, workspaceID string, port int) (Port, bool) {
	ps, err := f.Ports(userID, workspaceID)
	if err != nil {
		return Port{}, false
	}
	for _, p := range ps {
		if p.Port == port {
			if _, ok := p.Loopback(); ok {
				return p, true
			}
		}
	}
	return Port{}, false
}

// Watch calls changed with the workspace's ports at once and then each time
// they change, looking every interval until ctx ends.
func (f *Finder) Watch(ctx context.Context, userID, workspaceID string, interval time.Duration, changed func([]Port)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var last []Port
	first := true
	for {
		if ps, err := f.scan(userID, workspaceID); err == nil && (first || !slices.Equal(ps, last)) {
			first, last = false, ps
			changed(ps)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
