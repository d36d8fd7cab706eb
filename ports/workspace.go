package ports

import (
	"context"
	"io"
	"net"
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

	mu       sync.Mutex
	cache    map[string]cached
	scanning map[string]*sync.Mutex // by cache key: held while scanning
	probes   map[probeKey]probed
}

type probeKey struct{ pid, port int }

type probed struct {
	protocol string
	seen     time.Time
	// A listener that said nothing may be a VNC server still starting
	// (the kernel accepts for it before its loop first runs): it is asked
	// again at next, up to probeTries times in all.
	tries int
	next  time.Time
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
	if ok && time.Since(c.at) < maxAge {
		f.mu.Unlock()
		return c.ports, nil
	}
	// One scan at a time per workspace: callers arriving meanwhile take
	// the last answer, or wait for this one when there is none.
	if f.scanning == nil {
		f.scanning = map[string]*sync.Mutex{}
	}
	sm := f.scanning[key]
	if sm == nil {
		sm = &sync.Mutex{}
		f.scanning[key] = sm
	}
	f.mu.Unlock()
	if !sm.TryLock() {
		if ok {
			return c.ports, nil // a scan is under way: the last answer meanwhile
		}
		sm.Lock()
	}
	defer sm.Unlock()
	f.mu.Lock()
	if c, ok := f.cache[key]; ok && time.Since(c.at) < maxAge {
		f.mu.Unlock()
		return c.ports, nil
	}
	f.mu.Unlock()
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
			delete(f.scanning, k)
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
	ps, err := Listening(pids)
	if err != nil {
		return nil, err
	}
	for i := range ps {
		ps[i].Protocol = f.protocol(ps[i])
	}
	return ps, nil
}

// protocol probes a listener for a banner: once when it speaks, a few
// times over its first half minute when it stays silent.
func (f *Finder) protocol(p Port) string {
	k := probeKey{p.PID, p.Port}
	now := time.Now()
	f.mu.Lock()
	got, ok := f.probes[k]
	if ok {
		got.seen = now
		f.probes[k] = got
	}
	f.mu.Unlock()
	if ok && (got.protocol != "" || got.tries >= probeTries || now.Before(got.next)) {
		return got.protocol
	}
	proto := ""
	if addr, ok := p.Loopback(); ok {
		proto = probe(addr)
	}
	got.protocol, got.seen = proto, time.Now()
	got.tries++
	got.next = got.seen.Add(probeRetry << (got.tries - 1))
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.probes == nil {
		f.probes = map[probeKey]probed{}
	}
	for k, v := range f.probes {
		if time.Since(v.seen) > time.Minute {
			delete(f.probes, k)
		}
	}
	f.probes[k] = got
	return proto
}

// A silent listener is probed again after probeRetry, then twice as long
// each time: 1+2+4+8+16 s covers a VNC server that is slow to start on a
// busy machine, and an HTTP server sees only a handful of empty connections.
const (
	probeTries = 6
	probeRetry = time.Second
)

// probeWait is how long a probe waits for a banner: VNC servers send theirs
// at once.
const probeWait = 300 * time.Millisecond

// probe connects to addr and reads what the server says first: "RFB
// 003.008\n" is a VNC server's greeting.
func probe(addr string) string {
	c, err := net.DialTimeout("tcp", addr, probeWait)
	if err != nil {
		return ""
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(probeWait))
	b := make([]byte, 12)
	if _, err := io.ReadFull(c, b); err == nil && string(b[:4]) == "RFB " {
		return "rfb"
	}
	return ""
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
