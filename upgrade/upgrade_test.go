package upgrade

import (
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

func TestCheckRefusesUnknownFormats(t *testing.T) {
	versions := map[string]int{"sessions": 1}
	if err := Check("handover=1,sessions=1", versions); err != nil {
		t.Fatalf("own spec refused: %v", err)
	}
	for spec, want := range map[string]string{
		"handover=2,sessions=1": "handover state in format 2",
		"handover=1,sessions=9": "sessions state in format 9",
		"handover=1,screens=1":  `unknown state part "screens"`,
		"handover":              "bad format spec",
	} {
		if err := Check(spec, versions); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Check(%q) = %v, want %q", spec, err, want)
		}
	}
}

// TestStateRoundTrip: the memfd carries the envelope, is sealed, and the
// reader adopts the descriptors it names, close-on-exec again.
func TestStateRoundTrip(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	env := &envelope{Format: Version, Parts: map[string]partState{
		"p": {Version: 3, FDs: []int{fdOf(r)}, PIDs: []int{42}, Data: []byte(`{"x":1}`)},
	}}
	f, err := writeState(env)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("x"), 0); err == nil {
		t.Fatal("the state can be changed after it is written")
	}
	got, files, err := readState(fdOf(f))
	if err != nil {
		t.Fatal(err)
	}
	if p := got.Parts["p"]; p.Version != 3 || string(p.Data) != `{"x":1}` || len(files) != 1 || files[fdOf(r)] == nil {
		t.Fatalf("read back %+v, files %v", got, files)
	}
}

// TestPausedListenerQueues: while paused, Accept waits and a client's
// connection is not refused; it is accepted after resume.
func TestPausedListenerQueues(t *testing.T) {
	u := &Upgrader{}
	ln, err := u.Listen("test", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	u.pause()
	c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatalf("refused while paused: %v", err)
	}
	defer c.Close()
	select {
	case <-accepted:
		t.Fatal("accepted while paused")
	case <-time.After(100 * time.Millisecond):
	}
	u.resume()
	select {
	case c := <-accepted:
		c.Close()
	case <-time.After(10 * time.Second):
		t.Fatal("not accepted after resume")
	}
}

// handedOver makes an Upgrader as the next image sees it, with one
// listening socket handed over as name for addr.
func handedOver(t *testing.T, name, addr string) (*Upgrader, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	fd := fdOf(f)
	return &Upgrader{
		log:     slog.New(slog.DiscardHandler),
		in:      &envelope{Format: Version, Listeners: []listenerState{{Name: name, Addr: addr, FD: fd}}},
		inFiles: map[int]*os.File{fd: f},
	}, ln.Addr().String()
}

func TestListenTakesOverOrMoves(t *testing.T) {
	// The same configured address: the very socket, port ":0" and all.
	u, port := handedOver(t, "http", "127.0.0.1:0")
	ln, err := u.Listen("http", "127.0.0.1:0")
	if err != nil || ln.Addr().String() != port {
		t.Fatalf("same address: %v, %v (handed over %s)", ln, err, port)
	}
	ln.Close()

	// A new address that is free: moved there.
	u, port = handedOver(t, "http", "127.0.0.1:1")
	ln, err = u.Listen("http", "127.0.0.1:0")
	if err != nil || ln.Addr().String() == port {
		t.Fatalf("changed address: %v, %v", ln, err)
	}
	ln.Close()

	// A new address that cannot be used: the old socket stays.
	busy, _ := net.Listen("tcp", "127.0.0.1:0")
	defer busy.Close()
	u, port = handedOver(t, "http", "127.0.0.1:0")
	ln, err = u.Listen("http", busy.Addr().String())
	if err != nil || ln.Addr().String() != port {
		t.Fatalf("unusable new address: %v, %v; want the old socket %s", ln, err, port)
	}
	ln.Close()
}
