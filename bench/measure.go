package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"time"

	"github.com/creack/pty"
)

// output is what the benchmark reads a client's output from: a pipe, a PTY
// or a socket.
type output interface {
	io.ReadCloser
	SetReadDeadline(time.Time) error
}

// term is an interactive terminal client: an OpenSSH or Node client
// process, a shell on a raw PTY, or a client in this process (x/crypto SSH,
// the Socket.IO client) writing into a pipe. The benchmark reads its output
// as fast as it can.
type term struct {
	in    io.Writer
	out   output
	tail  []byte // last bytes seen, to find markers across reads
	buf   []byte
	done  <-chan struct{} // closed when the client has ended
	kill  func()          // ends the client at once
	after func()          // if set, runs at the end of close
	ptmx  *os.File        // raw PTY systems only
}

// startCmd runs a client process with its output on a pipe.
func startCmd(cmd *exec.Cmd) (*term, error) {
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	w.Close()
	return &term{in: in, out: r, buf: make([]byte, 256<<10), done: waitDone(cmd), kill: func() { cmd.Process.Kill() }}, nil
}

// waitDone reaps cmd and closes the channel when it has exited.
func waitDone(cmd *exec.Cmd) <-chan struct{} {
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	return done
}

func startSSH(args []string) (*term, error) {
	return startCmd(exec.Command("ssh", append([]string{"-tt"}, args...)...))
}

// startPTY runs a shell on a PTY in this process: the baseline.
func startPTY(home string) (*term, error) {
	cmd := exec.Command("/bin/bash", "--noprofile", "--norc")
	cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "TERM=xterm-256color", "PS1=$ "}
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 120, Rows: 40})
	if err != nil {
		return nil, err
	}
	return &term{in: f, out: f, ptmx: f, buf: make([]byte, 256<<10), done: waitDone(cmd), kill: func() { cmd.Process.Kill() }}, nil
}

// waitFor reads until marker appears and returns how many bytes it read.
func (t *term) waitFor(marker string, timeout time.Duration) (int64, error) {
	m := []byte(marker)
	if i := bytes.Index(t.tail, m); i >= 0 { // it came with an earlier read
		t.tail = append(t.tail[:0], t.tail[i+len(m):]...)
		return 0, nil
	}
	t.out.SetReadDeadline(time.Now().Add(timeout))
	var n int64
	for {
		k, err := t.out.Read(t.buf)
		n += int64(k)
		if k > 0 {
			window := append(t.tail, t.buf[:k]...)
			if i := bytes.Index(window, m); i >= 0 {
				t.tail = append(t.tail[:0], window[i+len(m):]...)
				return n, nil
			}
			if len(window) > len(m) {
				window = window[len(window)-len(m):]
			}
			t.tail = append(t.tail[:0], window...)
		}
		if err != nil {
			return n, fmt.Errorf("waiting for %q (%d bytes read, the last %q): %w", marker, n, t.tail, err)
		}
	}
}

func (t *term) send(s string) error {
	_, err := io.WriteString(t.in, s)
	return err
}

// ready waits until the shell runs commands.
func (t *term) ready() error {
	if err := t.send("echo READY-$((20+22))\r"); err != nil {
		return err
	}
	_, err := t.waitFor("READY-42", 30*time.Second)
	return err
}

// close asks the shell to exit, reading what it still prints, and ends the
// client if it does not go by itself. The shell is expected at its prompt
// (or starting up): a ^C first would flush the exit from the input queue.
func (t *term) close() {
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		t.out.SetReadDeadline(time.Now().Add(15 * time.Second))
		for {
			if _, err := t.out.Read(t.buf); err != nil {
				return
			}
		}
	}()
	t.send("exit\r")
	select {
	case <-t.done:
	case <-time.After(5 * time.Second):
		t.kill()
		select {
		case <-t.done:
		case <-time.After(5 * time.Second):
		}
	}
	t.out.SetReadDeadline(time.Now().Add(2 * time.Second))
	<-drained
	t.out.Close()
	if t.after != nil {
		t.after()
	}
}

// throughput has the shell exec cat on the text file, so the session ends
// right after its last byte. It returns the MiB/s that reached the client,
// the share of the output that did, and the bytes lost: a codeterm client
// that falls behind the shell gets a repaint instead of the backlog, by
// design, so it may see less than the whole stream; any other shortfall is
// output lost when the child exited.
func throughput(t *term, file string, want int64) (mibs, delivered float64, lost int64, err error) {
	if err := t.ready(); err != nil {
		return 0, 0, 0, err
	}
	start := time.Now()
	if err := t.send("echo BEGIN-$((1+1)); exec cat " + file + "\r"); err != nil {
		return 0, 0, 0, err
	}
	if _, err := t.waitFor("BEGIN-2", 30*time.Second); err != nil {
		return 0, 0, 0, err
	}
	n := int64(len(t.tail))
	k, err := t.readToEnd(10 * time.Minute)
	if err != nil {
		return 0, 0, 0, err
	}
	n += k - 2 // the \r\n after the marker
	elapsed := time.Since(start)
	return float64(n) / (1 << 20) / elapsed.Seconds(), min(1, float64(n)/float64(want)), max(0, want-n), nil
}

// readToEnd reads until the client's output ends and returns the bytes read.
func (t *term) readToEnd(timeout time.Duration) (int64, error) {
	t.out.SetReadDeadline(time.Now().Add(timeout))
	var n int64
	for {
		k, err := t.out.Read(t.buf)
		n += int64(k)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return n, fmt.Errorf("output did not end: %w", err)
			}
			return n, nil // EOF, or EIO from a PTY whose child has gone
		}
	}
}

// echo sends keystrokes one at a time to dd, which copies each byte back as
// it comes, on a non-canonical, non-echoing terminal, and times each round
// trip. dd stops after the last keystroke, so no ^C is needed (^C flushes
// the terminal's input, and with it whatever was typed after it).
func echo(t *term, keystrokes int) (p50, p99 time.Duration, err error) {
	if err := t.ready(); err != nil {
		return 0, 0, err
	}
	cmd := fmt.Sprintf("stty -icanon -echo; echo GO-$((5+5)); dd bs=1 count=%d status=none; stty sane; echo DONE-$((6*7))\r", keystrokes)
	if err := t.send(cmd); err != nil {
		return 0, 0, err
	}
	if _, err := t.waitFor("GO-10", 30*time.Second); err != nil {
		return 0, 0, err
	}
	rtts := make([]time.Duration, 0, keystrokes)
	for i := 0; i < keystrokes; i++ {
		b := string(rune('a' + i%26))
		start := time.Now()
		if err := t.send(b); err != nil {
			return 0, 0, err
		}
		if _, err := t.waitFor(b, 10*time.Second); err != nil {
			return 0, 0, err
		}
		rtts = append(rtts, time.Since(start))
	}
	if _, err := t.waitFor("DONE-42", 30*time.Second); err != nil {
		return 0, 0, err
	}
	sort.Slice(rtts, func(i, j int) bool { return rtts[i] < rtts[j] })
	return rtts[len(rtts)/2], rtts[len(rtts)*99/100], nil
}

// rawThroughput reads cat's output straight from a PTY. It returns MiB/s and
// the bytes read, which is what a terminal receives for the file (the PTY
// turns each \n into \r\n).
func rawThroughput(file string) (float64, int64, error) {
	cmd := exec.Command("cat", file)
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 120, Rows: 40})
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	start := time.Now()
	buf := make([]byte, 256<<10)
	var n int64
	for {
		k, err := f.Read(buf)
		n += int64(k)
		if err != nil {
			break // EIO once cat has exited and every byte was read
		}
	}
	elapsed := time.Since(start)
	cmd.Wait()
	return float64(n) / (1 << 20) / elapsed.Seconds(), n, nil
}
