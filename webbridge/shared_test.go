package webbridge

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/codeterm/codeterm/webbridge/socketio"
)

// TestSharedOutputEncodesOnce: the relays of one session get the same
// encoded piece for the same place in the stream, one encoding per form.
func TestSharedOutputEncodesOnce(t *testing.T) {
	var so sharedOutputs
	o := so.acquire("s")
	so.acquire("s")
	if !o.shared() {
		t.Fatal("two relays: not shared")
	}
	ns := (&socketio.Server{}).Of("/")
	encodes := 0
	enc := func() (*socketio.Packet, error) {
		encodes++
		return ns.EncodePacket("terminal-output", "x")
	}
	for i := 0; i < 3; i++ {
		for _, binary := range []bool{false, true} {
			p, err := o.packet(shareBlock, shareBlock, binary, enc)
			if err != nil {
				t.Fatal(err)
			}
			p.Release()
		}
	}
	if encodes != 2 {
		t.Fatalf("%d encodings for 3 relays in 2 forms, want 2", encodes)
	}
	// A piece further on than the window pushes the old ones out.
	p, _ := o.packet(10*shareWindow, 10, false, enc)
	p.Release()
	if len(o.entries) != 1 {
		t.Fatalf("%d entries kept, want 1", len(o.entries))
	}
	so.release("s", o)
	so.release("s", o)
	if len(so.m) != 0 || o.entries != nil {
		t.Fatalf("the last relay left %d sessions, %d entries", len(so.m), len(o.entries))
	}
}

// TestNextCut: pieces end at multiples of shareBlock, moved on to a
// character's start in the string form.
func TestNextCut(t *testing.T) {
	data := []byte(strings.Repeat("é", shareBlock)) // 2 bytes each
	if got := nextCut(data, 0, true); got != shareBlock {
		t.Errorf("binary: cut at %d, want %d", got, shareBlock)
	}
	if got := nextCut(data, 1, false); got != shareBlock || !utf8.RuneStart(data[got]) {
		t.Errorf("string from offset 1: cut at %d, want %d", got, shareBlock)
	}
	// One byte before the boundary, inside a character: the piece is that
	// whole character, never its first byte alone.
	if got := nextCut(data, shareBlock-1, false); got != 2 {
		t.Errorf("string from a block's last byte: cut at %d, want 2", got)
	}
	if got := nextCut(data[:100], 0, false); got != 100 {
		t.Errorf("short data: cut at %d, want 100", got)
	}
}

// TestSharedOutputFanOut: three sockets on one session receive the same
// complete stream of multi-byte text, cut in shared pieces: no character
// split, seq the exact offset after every chunk.
func TestSharedOutputFanOut(t *testing.T) {
	e := newEnv(t, envOptions{sessionQueue: 8 << 20, socketQueue: 8 << 20})
	tok := e.token(e.alice)
	a := e.dial(tok)
	id := a.createTerminal(e.aliceWS.ID)
	clients := []*sioClient{a}
	for i := 0; i < 2; i++ {
		c := e.dial(tok)
		if ack := c.call("attach-terminal", map[string]any{"sessionId": id, "lastSeq": 0}); ack["ok"] != true {
			t.Fatalf("attach: %v", ack)
		}
		clients = append(clients, c)
	}
	var text strings.Builder
	for i := 0; text.Len() < 200<<10; i++ {
		text.WriteString("é│ line " + strconv.Itoa(i) + " ✓\n")
	}
	file := filepath.Join(t.TempDir(), "text")
	if err := os.WriteFile(file, []byte(text.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	a.call("terminal-input", map[string]any{"sessionId": id, "data": "cat " + file + "; echo E''ND-$((6*7))\r"})
	for _, c := range clients {
		c.waitOutput(id, 0, "END-42")
		checkOutputSeqs(t, c)
	}
	want := a.output(id, 0)
	if !strings.Contains(want, strings.ReplaceAll(text.String()[:1000], "\n", "\r\n")) {
		t.Fatal("the text is not in the output")
	}
	for _, c := range clients[1:] {
		if got := c.output(id, 0); got != want {
			t.Fatalf("outputs differ: %d and %d bytes", len(got), len(want))
		}
	}
}
