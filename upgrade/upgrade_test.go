package upgrade

import (
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
