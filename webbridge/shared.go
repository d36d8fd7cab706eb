package webbridge

import (
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/codeterm/codeterm/webbridge/socketio"
)

// A session's output goes to every socket attached to it; each socket's
// relay takes it from its own queue, in chunks whose bounds depend on when
// that relay woke up. To encode a piece of output once for all of them, a
// relay cuts its chunks at the same offsets of the stream as every other
// (multiples of shareBlock), and the encoded pieces are kept a short while,
// keyed by their place in the stream, for the relays behind to find.
const (
	shareBlock = 16 << 10
	// shareWindow bounds how far behind the newest piece one is kept: about
	// what a socket's queue holds, the most a relay is behind another that
	// still gets output rather than a repaint.
	shareWindow  = 512 << 10
	shareEntries = 64
	// shareIdle drops everything kept once a session has printed nothing
	// new for this long, so that idle sessions pin no memory.
	shareIdle = 2 * time.Second
)

// sharedOutputs holds the sharedOutput of every session with a relay.
type sharedOutputs struct {
	mu sync.Mutex
	m  map[string]*sharedOutput
}

// acquire returns the session's sharedOutput, counting one more relay.
func (so *sharedOutputs) acquire(sessionID string) *sharedOutput {
	so.mu.Lock()
	defer so.mu.Unlock()
	if so.m == nil {
		so.m = map[string]*sharedOutput{}
	}
	o := so.m[sessionID]
	if o == nil {
		o = &sharedOutput{}
		so.m[sessionID] = o
	}
	o.relays.Add(1)
	return o
}

// release counts one relay less; the last one drops what is kept.
func (so *sharedOutputs) release(sessionID string, o *sharedOutput) {
	so.mu.Lock()
	last := o.relays.Add(-1) == 0
	if last && so.m[sessionID] == o {
		delete(so.m, sessionID)
	}
	so.mu.Unlock()
	if last {
		o.drop()
	}
}

// sharedOutput is the recently encoded terminal-output pieces of one
// session, shared by its relays.
type sharedOutput struct {
	relays atomic.Int32

	mu      sync.Mutex
	entries []sharedEntry // oldest first
	idle    *time.Timer
}

type sharedEntry struct {
	end    int64 // the offset after the piece
	n      int   // its length
	binary bool  // its form
	pkt    *socketio.Packet
}

// shared reports whether another relay may want the same pieces.
func (o *sharedOutput) shared() bool { return o.relays.Load() > 1 }

// packet returns the encoded piece of output ending at end, encoding it
// with encode if no relay has yet; the caller releases it.
func (o *sharedOutput) packet(end int64, n int, binary bool, encode func() (*socketio.Packet, error)) (*socketio.Packet, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := len(o.entries) - 1; i >= 0; i-- {
		e := o.entries[i]
		if e.end == end && e.n == n && e.binary == binary {
			e.pkt.Retain()
			return e.pkt, nil
		}
	}
	p, err := encode()
	if err != nil {
		return nil, err
	}
	p.Retain() // the entry's reference
	// Keep the entries in stream order; a relay far behind inserts old
	// pieces, which are then the first to go.
	at := len(o.entries)
	for at > 0 && o.entries[at-1].end > end {
		at--
	}
	o.entries = append(o.entries, sharedEntry{})
	copy(o.entries[at+1:], o.entries[at:])
	o.entries[at] = sharedEntry{end: end, n: n, binary: binary, pkt: p}
	newest := o.entries[len(o.entries)-1].end
	drop := 0
	for drop < len(o.entries) && (len(o.entries)-drop > shareEntries || o.entries[drop].end < newest-shareWindow) {
		o.entries[drop].pkt.Release()
		drop++
	}
	o.entries = append(o.entries[:0], o.entries[drop:]...)
	if o.idle == nil {
		o.idle = time.AfterFunc(shareIdle, o.drop)
	} else {
		o.idle.Reset(shareIdle)
	}
	return p, nil
}

// drop releases everything kept.
func (o *sharedOutput) drop() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, e := range o.entries {
		e.pkt.Release()
	}
	o.entries = nil
	if o.idle != nil {
		o.idle.Stop()
		o.idle = nil
	}
}

// nextCut returns where the piece of data that starts at offset start
// ends: at the next multiple of shareBlock or, in the string form, at the
// first character start after it (a cut inside a character would turn both
// halves into U+FFFD), or at the end of data. Every relay cuts the stream
// at the same offsets, which depend on its bytes alone.
func nextCut(data []byte, start int64, binary bool) int {
	cut := int(shareBlock - start%shareBlock)
	if !binary {
		for k := 0; k < utf8.UTFMax-1 && cut < len(data) && !utf8.RuneStart(data[cut]); k++ {
			cut++
		}
	}
	return min(cut, len(data))
}
