package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"time"

	"github.com/creack/pty"
)

// term is an interactive terminal client: an OpenSSH client with -tt, or a
// shell on a raw PTY. The benchmark reads its output as fast as it can.
type term struct {
	cmd  *exec.Cmd
	in   io.Writer
	out  *os.File // read with deadlines
	tail []byte   // last bytes seen, to find markers across reads
	buf  []byte
	ptmx *os.File // raw PTY systems only
}

func startSSH(args []string) (*term, error) {
	cmd := exec.Command("ssh", append([]string{"-tt"}, args...)...)
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
		return nil, err
	}
	w.Close()
	return &term{cmd: cmd, in: in, out: r, buf: make([]byte, 256<<10)}, nil
}

// startPTY runs a shell on a PTY in this process: the baseline.
func startPTY(home string) (*term, error) {
	cmd := exec.Command("/bin/bash", "--noprofile", "--norc")
	cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "TERM=xterm-256color", "PS1=$ "}
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 120, Rows: 40})
	if err != nil {
		return nil, err
	}
	return &term{cmd: cmd, in: f, out: f, ptmx: f, buf: make([]byte, 256<<10)}, nil
}

// waitFor reads until marker appears and returns how many bytes it read.
func (t *term) waitFor(marker string, timeout time.Duration) (int64, error) {
	m := []byte(marker)
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
			return n, fmt.Errorf("waiting for %q: %w", marker, err)
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

func (t *term) close() {
	t.send("\x03exit\r")
	done := make(chan struct{})
	go func() { t.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.cmd.Process.Kill()
		<-done
	}
	t.out.Close()
}

// throughput cats the text file. It returns the MiB/s that reached the
// client and the share of the output that did: a codeterm client that falls
// behind the shell gets a repaint instead of the backlog, by design, so it
// may see less than the whole stream.
func throughput(t *term, file string, want int64) (mibs, delivered float64, err error) {
	if err := t.ready(); err != nil {
		return 0, 0, err
	}
	start := time.Now()
	if err := t.send("cat " + file + "; echo END-$((30+3))\r"); err != nil {
		return 0, 0, err
	}
	n, err := t.waitFor("END-33", 10*time.Minute)
	if err != nil {
		return 0, 0, err
	}
	return float64(n) / (1 << 20) / time.Since(start).Seconds(), min(1, float64(n)/float64(want)), nil
}

// echo sends keystrokes one at a time to cat on a non-canonical, non-echoing
// terminal and times each round trip.
func echo(t *term, keystrokes int) (p50, p99 time.Duration, err error) {
	if err := t.ready(); err != nil {
		return 0, 0, err
	}
	if err := t.send("stty -icanon -echo; echo GO-$((5+5)); cat\r"); err != nil {
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
	t.send("\x03stty sane\r")
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
