package engineio

import (
	"compress/flate"
	"net/http"
	"strings"
)

// Bulk output is deflated only when it shrinks. A program printing at PTY
// speed gives the writer messages of tens of KiB; deflating typical,
// varied terminal text at BestSpeed ran at 72 MB/s for a ratio of 1.45 on
// these machines, and Node's ws inflates a 64 KiB message at about
// 100 MB/s. Measured with socket.io-client and `cat` of 32 MiB: 27 MiB/s
// with 55% of the output delivered (the rest repainted) when every message
// was deflated, 61-67 MiB/s with 80-90% delivered when bulk messages of
// such text went uncompressed. Repetitive output (logs, repaints) still
// shrinks several times, and is deflated.
const (
	bulkMessage = 16 << 10 // from this size a message is probed first
	probeBytes  = 4 << 10  // the sample deflated to decide
)

// offersDeflate reports whether the request offers permessage-deflate,
// which the upgrader then accepts when compression is enabled.
func offersDeflate(r *http.Request) bool {
	for _, v := range r.Header.Values("Sec-WebSocket-Extensions") {
		if strings.Contains(strings.ToLower(v), "permessage-deflate") {
			return true
		}
	}
	return false
}

// worthDeflating reports whether message b should be sent compressed: any
// small one, and a bulk one whose first probeBytes deflate to half or less.
func (s *Server) worthDeflating(b []byte) bool {
	if len(b) < bulkMessage {
		return true
	}
	p, _ := s.probes.Get().(*probe)
	if p == nil {
		p = &probe{}
		p.w, _ = flate.NewWriter(&p.n, flate.BestSpeed)
	}
	defer s.probes.Put(p)
	p.n = 0
	p.w.Reset(&p.n)
	sample := b[:probeBytes]
	p.w.Write(sample)
	p.w.Flush()
	return int(p.n)*2 <= len(sample)
}

// probe is a deflater that only counts its output.
type probe struct {
	w *flate.Writer
	n byteCounter
}

type byteCounter int

func (c *byteCounter) Write(p []byte) (int, error) {
	*c += byteCounter(len(p))
	return len(p), nil
}
