package sshd

import (
	"bytes"
	"io"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// TestSeqThreeMillionLines: an OpenSSH client in the workspace's shared
// session gets every line of `seq 1 3000000` (about 21 MB, far more than
// a client's queue), in order, although the shell writes faster than the
// client reads and exits right after: the shell waits for its client
// instead of the client getting a repaint.
func TestSeqThreeMillionLines(t *testing.T) {
	h := newHarness(t)
	const n = 3000000
	cmd := exec.Command("ssh", append(h.sshArgs(h.keyAlice, "-tt", "-p", h.port), "alice@127.0.0.1", "demo")...)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The quotes keep the markers out of the echo of the typed line.
	io.WriteString(in, "echo ST''ART; seq 1 "+strconv.Itoa(n)+"; echo FIN''ISHED; exit\r")
	// The client stops reading for a while once output flows, as a
	// terminal busy drawing would: everything on the way fills up.
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 32<<10)
		paused := false
		for {
			k, err := stdout.Read(buf)
			out.Write(buf[:k])
			if err != nil {
				break
			}
			if !paused && out.Len() > 1<<20 {
				paused = true
				time.Sleep(time.Second) // a slow client, on purpose
			}
		}
		done <- cmd.Wait()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ssh: %v; output ends %q", err, lastBytes(out.Bytes()))
		}
	case <-time.After(3 * time.Minute):
		cmd.Process.Kill()
		<-done
		t.Fatalf("ssh did not end; output ends %q", lastBytes(out.Bytes()))
	}
	got := out.Bytes()
	start := bytes.Index(got, []byte("START\r\n"))
	end := bytes.LastIndex(got, []byte("FINISHED"))
	if start < 0 || end < start {
		t.Fatalf("markers missing (%d, %d); output ends %q", start, end, lastBytes(got))
	}
	lines := bytes.Split(got[start+len("START\r\n"):end], []byte("\r\n"))
	if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	if len(lines) != n {
		t.Fatalf("got %d lines, want %d", len(lines), n)
	}
	for i, l := range lines {
		if string(l) != strconv.Itoa(i+1) {
			t.Fatalf("line %d is %q, want %d (gap or duplicate)", i, l, i+1)
		}
	}
}

func lastBytes(b []byte) []byte { return b[max(0, len(b)-300):] }
