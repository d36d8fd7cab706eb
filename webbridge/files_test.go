package webbridge

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/gorilla/websocket"
)

// sendChunk emits upload-chunk with data as a binary attachment, as
// socket.io-client does for {data: ArrayBuffer}, and returns the ack id.
func (c *sioClient) sendChunk(uploadID string, offset int, data []byte) int {
	c.mu.Lock()
	id := c.nextAck
	c.nextAck++
	c.mu.Unlock()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	head := `451-` + strconv.Itoa(id) + `["upload-chunk",{"uploadId":` + strconv.Quote(uploadID) +
		`,"offset":` + strconv.Itoa(offset) + `,"data":{"_placeholder":true,"num":0}}]`
	c.ws.WriteMessage(websocket.TextMessage, []byte(head))
	c.ws.WriteMessage(websocket.BinaryMessage, data)
	return id
}

// TestUploadChunksPacedByWindow: chunks an upload takes are paced by its
// window and acks, not by the event rate (a 256 MiB upload is 512 events),
// while refused chunks count against the rate like any event.
func TestUploadChunksPacedByWindow(t *testing.T) {
	e := newEnv(t, envOptions{eventsPerSecond: 5})
	c := e.dial(e.token(e.alice))
	const chunk, n = 1024, 40
	data := bytes.Repeat([]byte("0123456789abcdef"), chunk*n/16)
	start := c.call("upload-file", map[string]any{"workspaceId": e.aliceWS.ID, "path": "paced.bin", "size": len(data)})
	if start["ok"] != true {
		t.Fatalf("upload-file: %v", start)
	}
	id := start["uploadId"].(string)
	var last map[string]any
	for off := 0; off < len(data); off += chunk {
		last = c.waitAck(c.sendChunk(id, off, data[off:off+chunk]))
		if last["ok"] != true {
			t.Fatalf("chunk at %d: %v", off, last)
		}
	}
	if last["done"] != true {
		t.Fatalf("last ack %v", last)
	}
	got, err := os.ReadFile(filepath.Join(e.aliceWS.LocalPath, "paced.bin"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("uploaded file differs: %v", err)
	}

	// Chunks without data are refused and rate limited.
	limited := false
	for i := 0; i < 20 && !limited; i++ {
		ack := c.call("upload-chunk", map[string]any{"uploadId": "nope", "offset": 0})
		switch ackCode(ack) {
		case CodeRateLimited:
			limited = true
		case CodeInvalidPayload:
		default:
			t.Fatalf("bad chunk answered %v", ack)
		}
	}
	if !limited {
		t.Fatal("20 refused chunks at once were not rate limited at 5 events/s")
	}
}
