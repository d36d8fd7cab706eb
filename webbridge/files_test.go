package webbridge

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
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

// TestFileHTTPRefusals: the HTTP endpoints refuse what the socket events
// refuse, with the same codes, and never serve outside the workspace.
func TestFileHTTPRefusals(t *testing.T) {
	e := newEnv(t, envOptions{})
	outside := filepath.Join(filepath.Dir(e.aliceWS.LocalPath), "secret")
	if err := os.WriteFile(outside, []byte("SECRET"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(e.aliceWS.LocalPath, "link")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(e.aliceWS.LocalPath, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	tok := e.token(e.alice)
	do := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, e.ts.URL+"/api/workspaces/"+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	ws := e.aliceWS.ID
	for _, tc := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", ws + "/files/link", 400, "INVALID_PATH"},
		{"GET", ws + "/files/a%2F..%2F..%2Fsecret", 400, "INVALID_PATH"},
		{"GET", ws + "/files/%2Fetc%2Fpasswd", 400, "INVALID_PATH"},
		{"GET", ws + "/files/.git/config", 400, "INVALID_PATH"},
		{"GET", ws + "/files/fifo", 400, "NOT_A_FILE"},
		{"GET", ws + "/files/missing", 404, "FILE_NOT_FOUND"},
		{"GET", e.bobWS.ID + "/files/x", 404, "WORKSPACE_NOT_FOUND"},
		{"GET", "nope/files/x", 404, "WORKSPACE_NOT_FOUND"},
		{"PUT", ws + "/files/link", 400, "NOT_A_FILE"},
		{"PUT", ws + "/files/..%2Fescaped", 400, "INVALID_PATH"},
		{"PUT", e.bobWS.ID + "/files/x", 404, "WORKSPACE_NOT_FOUND"},
	} {
		status, body := do(tc.method, tc.path, "pwned")
		if status != tc.status || !strings.Contains(body, `"`+tc.code+`"`) || strings.Contains(body, "SECRET") {
			t.Errorf("%s %s = %d %s, want %d %s", tc.method, tc.path, status, body, tc.status, tc.code)
		}
	}
	if b, _ := os.ReadFile(outside); string(b) != "SECRET" {
		t.Fatalf("the file outside was written: %q", b)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(e.aliceWS.LocalPath), "escaped")); err == nil {
		t.Fatal("a PUT wrote outside the workspace")
	}
}
