package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// What the pacing rule costs and gives (codeterm's alone): the shell runs at
// the pace of the fastest reading client, a client behind it gets repaints,
// and a client that stops reading holds the shell only until
// sessions.stall_timeout.

// slowRead is the slow reader's pace: 64 KiB every 100 ms (640 KiB/s).
const (
	slowChunk = 64 << 10
	slowEvery = 100 * time.Millisecond
)

// pacing measures, over SSH and Socket.IO: 10 clients reading as fast as
// they can, against 9 of them beside one slow reader; and a client alone
// that stops reading, against one that reads.
func pacing(res *results, e *env, c *conns, p plan) error {
	const n = 10
	for _, transport := range []string{"SSH", "Socket.IO"} {
		sys := "codeterm over " + transport
		all, err := fanOut(e, c, transport, n, 0)
		if err != nil {
			return fmt.Errorf("fan-out to %d over %s: %w", n, transport, err)
		}
		withSlow, err := fanOut(e, c, transport, n, 1)
		if err != nil {
			return fmt.Errorf("fan-out to %d with a slow reader over %s: %w", n, transport, err)
		}
		fast := fmt.Sprintf("%d fast clients", n-1)
		res.add(fmt.Sprintf("slow reader: fast clients' MiB/s, %d clients all fast (%d MiB cat)", n, p.fanBytes>>20), sys, all.mibs)
		res.add(fmt.Sprintf("slow reader: fast clients' MiB/s, %s beside 1 slow reader (%d MiB cat)", fast, p.fanBytes>>20), sys, withSlow.mibs)
		res.add("slow reader: fast clients' MiB/s with the slow reader over without it, x", sys, withSlow.mibs/all.mibs)
		res.add("slow reader: fast clients' output delivered, %", sys, 100*withSlow.delivered)
		res.add("slow reader: the slow reader's output delivered, %", sys, 100*withSlow.slowDelivered)
		res.add("slow reader: repaints the slow reader got (total over all rounds)", sys, float64(withSlow.slowRepaints))

		reading, err := alone(e, c, transport, false)
		if err != nil {
			return fmt.Errorf("reading client alone over %s: %w", transport, err)
		}
		stalled, err := alone(e, c, transport, true)
		if err != nil {
			return fmt.Errorf("stalled client alone over %s: %w", transport, err)
		}
		res.add(fmt.Sprintf("client alone: the shell's time to finish a %d MiB cat while the client reads, s", p.fanBytes>>20), sys, reading.finish.Seconds())
		res.add(fmt.Sprintf("client alone: the shell's time to finish a %d MiB cat while the client reads nothing, s", p.fanBytes>>20), sys, stalled.finish.Seconds())
		res.add("client alone: bytes the shell wrote while a client that reads nothing held it, KiB", sys, float64(stalled.heldBytes)/1024)
		if stalled.dropped {
			res.add("client alone: stalled clients whose connection the server closed (total over all rounds)", sys, 1)
		} else {
			res.add("client alone: stalled clients whose connection the server closed (total over all rounds)", sys, 0)
			res.add("client alone: repaints the stalled client got when it read again (total over all rounds)", sys, float64(stalled.repaints))
		}
	}
	res.note("slow reader: one client reads %d KiB every %v beside clients reading as fast as they can, all on one session, each on a connection of its own; \"fast clients' MiB/s\" is the median over the fast ones, measured in the same round without and with the slow reader; the slow reader's repaints are the screen clears (ESC [2J) in what it read, which the cat'ed text never contains", slowChunk>>10, slowEvery)
	res.note("client alone: the client is the session's only one; a client that reads nothing holds the shell until sessions.stall_timeout (10 s here) and is then marked lagging, so the shell runs free; \"bytes written while held\" is how far the cat got in the first half of the stall timeout (the size of a file the shell fills behind the cat), which is what the client's queues, the SSH window or the Socket.IO queue, and the kernel's buffers hold")
	return nil
}

// slowReader reads t at the slow reader's pace until marker and returns the
// bytes read and the repaints among them.
func slowReader(t *term, marker string, timeout time.Duration) (int64, int, error) {
	deadline := time.Now().Add(timeout)
	buf := make([]byte, slowChunk)
	var n int64
	repaints := 0
	var window []byte
	for {
		t.out.SetReadDeadline(deadline)
		k, err := t.out.Read(buf) // what there is, up to the slow reader's chunk
		n += int64(k)
		window = append(window, buf[:k]...)
		repaints += bytes.Count(window, []byte("\x1b[2J"))
		if bytes.Contains(window, []byte(marker)) {
			return n, repaints, nil
		}
		if err != nil {
			return n, repaints, fmt.Errorf("waiting slowly for %q (%d bytes read): %w", marker, n, err)
		}
		// Keep a tail that can hold a marker or a clear cut in two, never
		// one already counted.
		keep := max(len(marker), 4) - 1
		if i := bytes.LastIndex(window, []byte("\x1b[2J")); i >= 0 {
			keep = min(keep, len(window)-i-4)
		}
		window = append(window[:0], window[len(window)-min(keep, len(window)):]...)
		time.Sleep(slowEvery) // the slow reader's pace, on purpose
	}
}

// aloneResult is what a client alone in a session measures.
type aloneResult struct {
	finish    time.Duration // from the command to the shell's end of the cat
	heldBytes int64         // how far the shell got in the first half of the stall timeout
	repaints  int           // clears in what the client read afterwards
	dropped   bool          // the server closed the stalled client's connection
}

// stallTimeout is the server's sessions.stall_timeout (its default).
const stallTimeout = 10 * time.Second

// alone attaches one client to a new session (a creator connection starts
// it, then only detaches, to kill it at the end) and has the shell copy the
// fan-out text to a file and to the client's terminal (tee), then touch a
// flag. The client reads throughout, or reads nothing until the flag is
// there.
func alone(e *env, c *conns, transport string, stall bool) (r aloneResult, err error) {
	ct := e.codeterm
	creator, err := dialTerms(ct.httpURL, ct.token)
	if err != nil {
		return r, err
	}
	defer creator.close()
	first, s, err := creator.create(ct.workspaces["fan"], 120, 40)
	if err != nil {
		return r, err
	}
	defer first.out.Close()
	if err := first.ready(); err != nil {
		return r, err
	}
	var t *term
	if transport == "SSH" {
		ssh, err := dialSSH(ct.sshPort, ct.user, e.key)
		if err != nil {
			return r, err
		}
		defer ssh.Close()
		t, err = sshTerm(ssh, "fan/"+s.id, 120, 40)
		if err != nil {
			return r, err
		}
	} else {
		cl, err := dialTerms(ct.httpURL, ct.token)
		if err != nil {
			return r, err
		}
		defer cl.close()
		if t, _, err = cl.attach(s.id, 120, 40); err != nil {
			return r, err
		}
	}
	creator.detach(s)
	defer func() {
		creator.c.emit("kill-terminal", `{"sessionId":`+jsonQuote(s.id)+`}`)
		select {
		case <-t.done:
		case <-time.After(10 * time.Second):
			t.kill()
		}
		t.out.Close()
	}()
	if err := t.ready(); err != nil {
		return r, err
	}
	dir, err := os.MkdirTemp("", "codeterm-bench-alone")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(dir)
	flag, copyFile := filepath.Join(dir, "finished"), filepath.Join(dir, "copy")
	start := time.Now()
	if err := t.send("tee " + copyFile + " < " + e.fanFile + "; touch " + flag + "; echo END-$((30+3))\r"); err != nil {
		return r, err
	}
	if !stall {
		if _, err := t.waitFor("END-33", 5*time.Minute); err != nil {
			return r, err
		}
	}
	sampled := false
	for {
		if _, err := os.Stat(flag); err == nil {
			break
		}
		if stall && !sampled && time.Since(start) > stallTimeout/2 {
			if fi, err := os.Stat(copyFile); err == nil {
				r.heldBytes = fi.Size()
			}
			sampled = true
		}
		if time.Since(start) > 5*time.Minute {
			return r, errors.New("the shell never finished")
		}
		time.Sleep(5 * time.Millisecond) // polling a file, not output
	}
	r.finish = time.Since(start)
	if stall {
		n, repaints, err := slowReader(t, "END-33", time.Minute)
		switch {
		case errors.Is(err, io.EOF):
			// A websocket the client stopped reading: the server's write
			// timeout closed it (a browser would resume with lastSeq).
			r.dropped = true
		case err != nil:
			return r, fmt.Errorf("after the stall (%d bytes): %w", n, err)
		}
		r.repaints = repaints
	}
	return r, nil
}
