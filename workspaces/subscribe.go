package workspaces

import (
	"context"
	"fmt"
	"sync"
)

// Subscription is one consumer's view of a workspace's file events. All
// subscriptions to a workspace share one Watcher, which runs while at least
// one of them is open; so the bridge can simply subscribe when a socket
// joins a workspace and Close when it leaves.
type Subscription struct {
	ch     chan FileEvent
	sw     *sharedWatch
	m      *Manager
	stop   func() bool // detaches the context.AfterFunc; under Manager.mu
	closed bool        // guarded by sw.mu
}

type sharedWatch struct {
	id string
	w  *Watcher

	mu   sync.Mutex
	subs map[*Subscription]struct{}
}

// subscriberBuffer bounds each subscriber's queue. A consumer that falls
// further behind loses events rather than holding up the others: file events
// are hints for refreshing a view, not a log.
const subscriberBuffer = 256

// Watch subscribes to file events of one of the user's workspaces. The
// subscription ends when ctx is done or Close is called; Events is then
// closed. Deleting the workspace ends all its subscriptions.
func (m *Manager) Watch(ctx context.Context, userID, id string) (*Subscription, error) {
	ws, err := m.Get(ctx, userID, id)
	if err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	if _, err := m.ownedPath(ws); err != nil {
		return nil, fmt.Errorf("watch %q: %w", ws.Name, err)
	}
	m.mu.Lock()
	sw := m.watches[id]
	m.mu.Unlock()
	if sw == nil {
		// Walking a big tree takes a while: do it without holding m.mu and
		// let a concurrent first subscriber win.
		w, err := NewWatcher(ws.LocalPath, WatchOptions{
			IgnoreDirs:   m.cfg.IgnoreDirs,
			Window:       m.cfg.CoalesceWindow,
			PollInterval: m.cfg.PollInterval,
			Logger:       m.log.With("workspace", id),
			addWatch:     m.addWatch,
			limitLogged:  &m.limitLogged,
		})
		if err != nil {
			return nil, err
		}
		m.mu.Lock()
		if sw = m.watches[id]; sw == nil {
			sw = &sharedWatch{id: id, w: w, subs: map[*Subscription]struct{}{}}
			m.watches[id] = sw
			go sw.fanOut(m)
			w = nil
		}
		m.mu.Unlock()
		if w != nil {
			w.Close()
		}
	}
	s := &Subscription{ch: make(chan FileEvent, subscriberBuffer), sw: sw, m: m}
	m.mu.Lock()
	sw.mu.Lock()
	if m.watches[id] != sw { // stopped between the two locks
		sw.mu.Unlock()
		m.mu.Unlock()
		return m.Watch(ctx, userID, id)
	}
	sw.subs[s] = struct{}{}
	sw.mu.Unlock()
	m.mu.Unlock()
	// Under m.mu: when ctx is already done, Close runs at once on another
	// goroutine and reads stop.
	stop := context.AfterFunc(ctx, s.Close)
	m.mu.Lock()
	s.stop = stop
	m.mu.Unlock()
	return s, nil
}

// Events delivers the workspace's file events until the subscription ends.
func (s *Subscription) Events() <-chan FileEvent { return s.ch }

// Polling reports that the workspace's watcher ran out of inotify watches
// and is rescanning periodically (events arrive later, in batches).
func (s *Subscription) Polling() bool { return s.sw.w.Polling() }

// Close ends the subscription; the last one stops the watcher. It is safe to
// call more than once.
func (s *Subscription) Close() {
	m, sw := s.m, s.sw
	m.mu.Lock()
	if s.stop != nil {
		s.stop() // does not wait for a Close already started by the context
	}
	sw.mu.Lock()
	if !s.closed {
		s.closed = true
		delete(sw.subs, s)
		close(s.ch)
	}
	last := len(sw.subs) == 0 && m.watches[sw.id] == sw
	if last {
		delete(m.watches, sw.id)
	}
	sw.mu.Unlock()
	m.mu.Unlock()
	if last {
		sw.w.Close()
	}
}

func (sw *sharedWatch) fanOut(m *Manager) {
	for ev := range sw.w.Events() {
		sw.mu.Lock()
		for s := range sw.subs {
			select {
			case s.ch <- ev:
			default:
				m.log.Debug("file event dropped for slow subscriber", "workspace", sw.id, "path", ev.Path)
			}
		}
		sw.mu.Unlock()
	}
	// The watcher stopped (last Close, Delete, Manager.Close, or its
	// directory vanished): end every subscription still open, and make sure
	// the next Watch starts a fresh watcher.
	m.mu.Lock()
	if m.watches[sw.id] == sw {
		delete(m.watches, sw.id)
	}
	sw.mu.Lock()
	for s := range sw.subs {
		s.closed = true
		close(s.ch)
	}
	sw.subs = nil
	sw.mu.Unlock()
	m.mu.Unlock()
}

// stopWatch ends every subscription to a workspace.
func (m *Manager) stopWatch(id string) {
	m.mu.Lock()
	sw := m.watches[id]
	delete(m.watches, id)
	m.mu.Unlock()
	if sw != nil {
		sw.stop()
	}
}

func (sw *sharedWatch) stop() { sw.w.Close() }
