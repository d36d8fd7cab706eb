package sessions

import (
	"sync/atomic"
	"time"

	"github.com/codeterm/codeterm/internal/counter"
)

// The core's counters for monitoring. They are atomics bumped where things
// happen (one add per PTY read at most, none per byte) and read only when
// someone asks, so the data path pays next to nothing for them.

// counters lives in the Manager.
type counters struct {
	inBytes, outBytes atomic.Uint64
	repaints, lags    atomic.Uint64
	echo              *counter.Histogram
}

func newCounters() counters {
	return counters{echo: counter.NewHistogram(
		50*time.Microsecond, 100*time.Microsecond, 250*time.Microsecond, 500*time.Microsecond,
		time.Millisecond, 2500*time.Microsecond, 5*time.Millisecond, 10*time.Millisecond,
		25*time.Millisecond, 50*time.Millisecond, 100*time.Millisecond, 250*time.Millisecond,
		500*time.Millisecond, time.Second)}
}

// Stats is a snapshot of the core for monitoring.
type Stats struct {
	// Sessions by state: "attached" (a client is on it) or "detached".
	Sessions map[string]int
	// Attachments by client (AttachOptions.Client, "" = "other") and
	// mode ("write" or "read").
	Attachments map[[2]string]int
	// QueuedBytes is the output waiting in attachments' queues for their
	// clients, by client: what clients that read slowly cost now.
	QueuedBytes map[string]int
	InputBytes  uint64 // written to shells since start
	OutputBytes uint64 // read from shells since start
	Repaints    uint64 // screens sent instead of a stream
	Lags        uint64 // clients dropped behind and repainted
	// Echo is the time from an input write to the first output after it,
	// as the server sees it.
	Echo counter.Snapshot
}

// Stats returns the counters and the live sessions' states.
func (m *Manager) Stats() Stats {
	st := Stats{
		Sessions:    map[string]int{"attached": 0, "detached": 0},
		Attachments: map[[2]string]int{},
		QueuedBytes: map[string]int{},
		InputBytes:  m.stats.inBytes.Load(),
		OutputBytes: m.stats.outBytes.Load(),
		Repaints:    m.stats.repaints.Load(),
		Lags:        m.stats.lags.Load(),
		Echo:        m.stats.echo.Snapshot(),
	}
	m.mu.Lock()
	list := make([]*Session, 0, len(m.sessions))
	for _, s := range m.sessions {
		list = append(list, s)
	}
	m.mu.Unlock()
	for _, s := range list {
		s.mu.Lock()
		if len(s.atts) > 0 {
			st.Sessions["attached"]++
		} else {
			st.Sessions["detached"]++
		}
		for _, a := range s.atts {
			client, mode := a.client, "write"
			if client == "" {
				client = "other"
			}
			if a.readOnly {
				mode = "read"
			}
			st.Attachments[[2]string{client, mode}]++
			a.mu.Lock()
			st.QueuedBytes[client] += len(a.buf) - a.head
			a.mu.Unlock()
		}
		s.mu.Unlock()
	}
	return st
}

// inputDone counts n bytes written to the terminal and starts an echo
// measurement unless one is running.
func (s *Session) inputDone(n int) {
	if n <= 0 {
		return
	}
	s.m.stats.inBytes.Add(uint64(n))
	s.echoFrom.CompareAndSwap(0, time.Now().UnixNano())
}

// outputSeen ends the echo measurement, if any, at now.
func (s *Session) outputSeen(now int64) {
	if t := s.echoFrom.Load(); t != 0 && s.echoFrom.CompareAndSwap(t, 0) {
		s.m.stats.echo.Observe(time.Duration(now - t))
	}
}
