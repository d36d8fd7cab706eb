package engineio

import (
	"bytes"
	"compress/flate"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"net/http/httptest"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// deflateBomb returns the permessage-deflate payload of a text message of n
// zero bytes (after the "4" of an Engine.IO message): about n/1000 bytes.
func deflateBomb(t *testing.T, n int) []byte {
	t.Helper()
	var out bytes.Buffer
	w, _ := flate.NewWriter(&out, flate.BestCompression)
	_, _ = w.Write([]byte("4"))
	zeros := make([]byte, 1<<20)
	for n > 0 {
		k := min(n, len(zeros))
		_, _ = w.Write(zeros[:k])
		n -= k
	}
	_ = w.Flush()
	// RFC 7692: the sender drops the flush's empty stored block tail.
	return bytes.TrimSuffix(out.Bytes(), []byte{0, 0, 0xff, 0xff})
}

// compressedFrame is a masked client text frame with RSV1 (compressed) set.
func compressedFrame(payload []byte) []byte {
	f := []byte{0xC1, 0x80 | 127}
	f = binary.BigEndian.AppendUint64(f, uint64(len(payload)))
	var key [4]byte
	_, _ = rand.Read(key[:])
	f = append(f, key[:]...)
	for i, b := range payload {
		f = append(f, b^key[i%4])
	}
	return f
}

// A compressed message is limited by its inflated size: 200 MB of zeros
// deflate to 200 KB, well under MaxPayload on the wire. The server must
// stop inflating at MaxPayload and close with 1009, allocating about that
// much, not the 200 MB (issue #13: 95 KiB on the wire grew it by 240 MiB).
func TestWebSocketDeflateBombCloses(t *testing.T) {
	var took atomic.Int64 // bytes the application was handed
	srv := &Server{EnableCompression: true, OnConnection: func(c *Conn) {
		c.OnMessage(func(m Message) { took.Add(int64(len(m.Data))) })
	}}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { srv.Close(); ts.Close() })
	bomb := compressedFrame(deflateBomb(t, 200_000_000))
	if int64(len(bomb)) >= DefaultMaxPayload {
		t.Fatalf("bomb of %d bytes would hit the wire limit", len(bomb))
	}
	d := websocket.Dialer{HandshakeTimeout: testTimeout, EnableCompression: true}
	ws, resp, err := d.Dial(wsURL(ts, ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	defer ws.Close()
	if resp.Header.Get("Sec-WebSocket-Extensions") == "" {
		t.Fatal("server did not negotiate permessage-deflate")
	}
	readWS(t, ws) // open

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if _, err := ws.NetConn().Write(bomb); err != nil {
		t.Fatal(err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(testTimeout))
	var ce *websocket.CloseError
	_, data, err := ws.ReadMessage()
	if err == nil {
		t.Fatalf("unexpected message %.20q", data)
	}
	if !errors.As(err, &ce) {
		runtime.ReadMemStats(&after)
		t.Fatalf("want a close frame, got %v; the server took %d bytes and allocated %.0f MiB",
			err, took.Load(), float64(after.TotalAlloc-before.TotalAlloc)/(1<<20))
	}
	if ce.Code != websocket.CloseMessageTooBig {
		t.Errorf("close code = %d, want %d", ce.Code, websocket.CloseMessageTooBig)
	}
	eventually(t, "the connection to go", func() bool { return srv.ConnCount() == 0 })
	runtime.ReadMemStats(&after)
	// TotalAlloc only grows: it bounds what the server can have held.
	grown := after.TotalAlloc - before.TotalAlloc
	t.Logf("wire %d bytes, inflated 200 MB: server allocated %.1f MiB", len(bomb), float64(grown)/(1<<20))
	if grown > 8<<20 {
		t.Errorf("server allocated %.1f MiB for one message, want under 8 MiB", float64(grown)/(1<<20))
	}
}
