package socketio

import (
	"net/http/httptest"
	"testing"

	"github.com/codeterm/codeterm/webbridge/socketio/engineio"
)

func newBenchServer(b *testing.B, srv *Server) string {
	ts := httptest.NewServer(srv)
	b.Cleanup(func() {
		srv.Close()
		ts.Close()
	})
	return ts.URL
}

// engineioMarker is a tiny message that tells the benchmark reader the
// stream is over.
func engineioMarker() engineio.Message { return engineio.Message{Data: []byte("end")} }
