package sessions

import "sync"

// Changes tells a front-end which sessions changed in a way its users see:
// started, ended, renamed, resized, or gained or lost a client. It never
// blocks the session core and never loses a change; changes to one session
// between two reads come out once. Read Info for the current state.
type Changes struct {
	m      *Manager
	notify chan struct{} // capacity 1: "something changed"

	mu    sync.Mutex
	dirty map[*Session]struct{}
}

// WatchChanges starts collecting changes of every session; Close stops it.
func (m *Manager) WatchChanges() *Changes {
	c := &Changes{m: m, notify: make(chan struct{}, 1), dirty: map[*Session]struct{}{}}
	m.watchMu.Lock()
	if m.watchers == nil {
		m.watchers = map[*Changes]struct{}{}
	}
	m.watchers[c] = struct{}{}
	m.watchMu.Unlock()
	return c
}

// C receives a value when changes are waiting.
func (c *Changes) C() <-chan struct{} { return c.notify }

// Take returns the sessions changed since the last call, and forgets them.
func (c *Changes) Take() []*Session {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*Session, 0, len(c.dirty))
	for s := range c.dirty {
		out = append(out, s)
	}
	clear(c.dirty)
	return out
}

// Close stops collecting.
func (c *Changes) Close() {
	c.m.watchMu.Lock()
	delete(c.m.watchers, c)
	c.m.watchMu.Unlock()
}

// changed records a change of s for every watcher. Callers may hold the
// session's lock: the watchers' locks are taken after it, never before.
func (m *Manager) changed(s *Session) {
	m.watchMu.Lock()
	defer m.watchMu.Unlock()
	for c := range m.watchers {
		c.mu.Lock()
		c.dirty[s] = struct{}{}
		c.mu.Unlock()
		select {
		case c.notify <- struct{}{}:
		default:
		}
	}
}
