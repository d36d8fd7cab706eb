package sessions

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// readCast validates an asciicast v2 file: a header object, then event
// arrays [time, code, data] with times that never go back. It returns the
// output ("o") joined, and the input markers.
func readCast(t *testing.T, path string) (out string, inputs []string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	if !sc.Scan() {
		t.Fatal("empty recording")
	}
	var hdr struct {
		Version   int   `json:"version"`
		Width     int   `json:"width"`
		Height    int   `json:"height"`
		Timestamp int64 `json:"timestamp"`
	}
	if err := json.Unmarshal(sc.Bytes(), &hdr); err != nil || hdr.Version != 2 || hdr.Width < 1 || hdr.Height < 1 || hdr.Timestamp == 0 {
		t.Fatalf("header %q: %+v %v", sc.Text(), hdr, err)
	}
	last := -1.0
	var o strings.Builder
	for sc.Scan() {
		var ev []any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil || len(ev) != 3 {
			t.Fatalf("event %q: %v", sc.Text(), err)
		}
		ts, ok1 := ev[0].(float64)
		code, ok2 := ev[1].(string)
		data, ok3 := ev[2].(string)
		if !ok1 || !ok2 || !ok3 || ts < last {
			t.Fatalf("event %q", sc.Text())
		}
		last = ts
		switch code {
		case "o":
			o.WriteString(data)
		case "i":
			inputs = append(inputs, data)
		case "r":
		default:
			t.Fatalf("event code %q", code)
		}
	}
	return o.String(), inputs
}

// TestRecordingReplay: the .cast is asciicast v2 and its output is exactly
// the session's; input markers only with RecordInput; the recording is
// served to the owner and to invited users only, also after the end.
func TestRecordingReplay(t *testing.T) {
	dir := t.TempDir()
	e := newTestEnv(t, Config{RecordDir: dir})
	ctx := context.Background()
	s := e.create(0)
	a := collect(t, attach(t, s, AttachOptions{LastSeq: 0, Cols: 90, Rows: 20}))
	if !s.Recording() {
		t.Fatal("not recording with RecordOnRequest off")
	}
	input(t, a.a, "printf 'caf\\303\\251 %s\\n' rec-$((2*21)); exit\n")
	a.waitExit()
	waitDone(t, s)
	path, err := e.m.RecordingFile(ctx, e.user.ID, s.ID())
	if err != nil {
		t.Fatal(err)
	}
	out, inputs := readCast(t, path)
	if out != string(a.streamCopy()) {
		t.Fatalf("recorded output differs from the session's:\n%q\n%q", out, a.streamCopy())
	}
	if !strings.Contains(out, "café rec-42") || len(inputs) != 0 {
		t.Fatalf("output %q, inputs %q", out, inputs)
	}

	// bob may not replay it until it is shared with him; carol never.
	if _, err := e.m.RecordingFile(ctx, e.other.ID, s.ID()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("bob replays an unshared recording: %v", err)
	}
	if _, err := e.m.RecordingFile(ctx, e.user.ID, "no-such"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing recording: %v", err)
	}
}

// TestRecordOnRequest: with RecordOnRequest a session records only once
// its owner switches it on, and RecordInput adds input markers.
func TestRecordOnRequest(t *testing.T) {
	dir := t.TempDir()
	e := newTestEnv(t, Config{RecordDir: dir, RecordOnRequest: true, RecordInput: true})
	ctx := context.Background()
	s := e.create(0)
	a := collect(t, attach(t, s, AttachOptions{LastSeq: 0}))
	input(t, a.a, "echo before-$((1+1))\n")
	a.waitFor("before-2")
	if s.Recording() {
		t.Fatal("recording before it was asked for")
	}
	if _, err := os.Stat(filepath.Join(dir, s.ID()+".cast")); !os.IsNotExist(err) {
		t.Fatalf("a file before recording: %v", err)
	}
	bob := Who{UserID: e.other.ID, User: "bob"}
	if err := e.m.SetRecording(bob, s.ID(), true); !errors.Is(err, ErrNotFound) {
		t.Fatalf("bob switches recording: %v", err)
	}
	if _, err := e.m.ShareSession(ctx, Who{UserID: e.user.ID}, s.ID(), bob, RoleEditor, 0); err != nil {
		t.Fatal(err)
	}
	if err := e.m.SetRecording(bob, s.ID(), true); !errors.Is(err, ErrNotFound) {
		t.Fatalf("an editor switches recording: %v", err)
	}
	if err := e.m.SetRecording(Who{UserID: e.user.ID}, s.ID(), true); err != nil {
		t.Fatal(err)
	}
	if !s.Recording() {
		t.Fatal("not recording")
	}
	input(t, a.a, "echo during-$((2+2))\n")
	a.waitFor("during-4")
	input(t, a.a, "exit\n")
	a.waitExit()
	waitDone(t, s)
	path, err := e.m.RecordingFile(ctx, e.other.ID, s.ID()) // shared: bob may replay
	if err != nil {
		t.Fatal(err)
	}
	out, inputs := readCast(t, path)
	if strings.Contains(out, "before-2") || !strings.Contains(out, "during-4") {
		t.Fatalf("recorded output %q", out)
	}
	if strings.Join(inputs, "") != "echo during-$((2+2))\nexit\n" {
		t.Fatalf("input markers %q", inputs)
	}
}

// A client that asked for recording notices finds each switch in its
// stream, even while output never pauses; one that did not never sees one.
func TestRecordingNotices(t *testing.T) {
	e := newTestEnv(t, Config{RecordDir: t.TempDir(), RecordOnRequest: true})
	s := e.create(0)
	told := collect(t, neverLag(attach(t, s, AttachOptions{LastSeq: -1, RecordingNotices: true})))
	plain := collect(t, neverLag(attach(t, s, AttachOptions{LastSeq: -1})))
	input(t, told.a, "while :; do echo flowing; done\n")
	told.waitFor("flowing\r\nflowing")
	notices := func(chs []Chunk) (out []bool) { // called with the collector's lock held
		for _, ch := range chs {
			if ch.Kind == ChunkRecording {
				out = append(out, ch.Recording)
			}
		}
		return out
	}
	owner := Who{UserID: e.user.ID}
	for i, on := range []bool{true, false, true} {
		if err := e.m.SetRecording(owner, s.ID(), on); err != nil {
			t.Fatal(err)
		}
		told.waitUntil(fmt.Sprintf("notice %d", i+1), func() bool { return len(notices(told.chunks)) == i+1 })
	}
	told.mu.Lock()
	got := notices(told.chunks)
	told.mu.Unlock()
	if !slices.Equal(got, []bool{true, false, true}) {
		t.Fatalf("notices %v", got)
	}
	plain.mu.Lock()
	got = notices(plain.chunks)
	plain.mu.Unlock()
	if len(got) != 0 {
		t.Fatalf("a client that did not ask got notices %v", got)
	}
	input(t, told.a, "\x03")
}

// NextOr returns what its channel delivers, and says when it is closed,
// between chunks of output.
func TestNextOr(t *testing.T) {
	e := newTestEnv(t, Config{})
	s := e.create(0)
	a := neverLag(attach(t, s, AttachOptions{LastSeq: -1}))
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if c, _, got, _, err := NextOr[int](ctx, a, nil); err != nil || got || c.Kind != ChunkRepaint {
		t.Fatalf("first: %v %v %v", c.Kind, got, err)
	}
	events := make(chan int, 1)
	events <- 7
	if _, v, got, ok, err := NextOr(ctx, a, events); err != nil || !got || !ok || v != 7 {
		t.Fatalf("an event: %v %v %v %v", v, got, ok, err)
	}
	close(events)
	if _, _, got, ok, err := NextOr(ctx, a, events); err != nil || !got || ok {
		t.Fatalf("a closed channel: %v %v %v", got, ok, err)
	}
	input(t, a, "echo after-$((3+4))\n")
	var out []byte
	for !bytes.Contains(out, []byte("after-7")) {
		c, _, got, _, err := NextOr[int](ctx, a, nil)
		if err != nil || got {
			t.Fatalf("output: %v %v", got, err)
		}
		out = append(out, c.Data...)
	}
}
