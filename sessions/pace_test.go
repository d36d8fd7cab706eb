package sessions

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// streamReader reads an attachment to its end, checking that the output
// offsets are contiguous, and keeps the output. pauseAt, if > 0, makes it
// stop reading once for pauseFor after that many bytes, so the queue fills
// and the pump must wait for it.
type streamReader struct {
	out      []byte
	repaints []Chunk
	exit     *Chunk
	err      error
	done     chan struct{}
}

func readStream(a *Attachment, pauseAt int, pauseFor time.Duration) *streamReader {
	r := &streamReader{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		next := int64(-1)
		for {
			ch, err := a.Next(context.Background())
			if err != nil {
				if !errors.Is(err, io.EOF) {
					r.err = err
				}
				return
			}
			switch ch.Kind {
			case ChunkRepaint:
				ch.Data = nil
				r.repaints = append(r.repaints, ch)
				next = ch.Seq
			case ChunkOutput:
				if start := ch.Seq - int64(len(ch.Data)); next >= 0 && start != next {
					r.err = errors.New("offsets not contiguous")
					return
				}
				next = ch.Seq
				before := len(r.out)
				r.out = append(r.out, ch.Data...)
				if pauseAt > 0 && before < pauseAt && len(r.out) >= pauseAt {
					time.Sleep(pauseFor) // a slow client, on purpose
				}
			case ChunkExit:
				r.exit = &ch
			}
		}
	}()
	return r
}

func (r *streamReader) wait(t *testing.T) {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(2 * time.Minute):
		t.Fatal("the stream did not end")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
}

// TestLoneClientGetsEveryByte: a client alone in a session gets all of a
// 50 MiB burst, in order, with contiguous offsets and no repaint after
// the first, although it stops reading for a while in the middle: the
// shell waits for it. The shell exits right after the burst, so nothing
// is lost at the exit either.
func TestLoneClientGetsEveryByte(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, Config{})
	const n = 50 << 20
	file, want := payload(t, n)
	s := e.create(0)
	a := attach(t, s, AttachOptions{LastSeq: -1})
	// The first screen is taken before the output starts: a client waiting
	// for a repaint does not set the pace.
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	first, err := a.Next(ctx)
	cancel()
	if err != nil || first.Kind != ChunkRepaint {
		t.Fatalf("first chunk %v, %v", first.Kind, err)
	}
	r := readStream(a, 8<<20, 300*time.Millisecond)
	input(t, a, "stty -echo; "+markedCat(file, n)+"; exit\n")
	r.wait(t)
	if r.exit == nil {
		t.Fatal("no exit")
	}
	if len(r.repaints) != 0 {
		t.Fatalf("%d repaints after the first screen, want none", len(r.repaints))
	}
	if got := between(t, r.out); !bytes.Equal(got, want) {
		t.Fatalf("got %d bytes of %d, or different ones", len(got), len(want))
	}
	if a.Lags() != 0 {
		t.Fatalf("lone client lagged %d times", a.Lags())
	}
	if s.pausedTotal(time.Now()) == 0 {
		t.Fatal("the shell never waited for its client")
	}
}

// TestSlowClientAmongFastOnes: a client that reads slowly beside fast ones
// gets repaints; the fast ones get everything and the shell never waits
// for the slow one.
func TestSlowClientAmongFastOnes(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, Config{QueueBytes: 1 << 20})
	const n = 8 << 20
	file, want := payload(t, n)
	s := e.create(0)
	// The fast clients are test goroutines on a loaded machine; let them be
	// descheduled without being dropped (neverLag): they still set the pace.
	fast := []*Attachment{
		neverLag(attach(t, s, AttachOptions{LastSeq: -1})),
		neverLag(attach(t, s, AttachOptions{LastSeq: -1, ReadOnly: true})),
	}
	slow := attach(t, s, AttachOptions{LastSeq: -1})
	// Each fast client takes its first screen before the output starts: a
	// client waiting for a repaint does not set the pace, so the shell
	// would otherwise run ahead of a reader not yet scheduled.
	var rs []*streamReader
	for i, a := range fast {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		ch, err := a.Next(ctx)
		cancel()
		if err != nil || ch.Kind != ChunkRepaint {
			t.Fatalf("fast client %d: first chunk %v, %v", i, ch.Kind, err)
		}
		rs = append(rs, readStream(a, 0, 0))
	}
	slowDone := make(chan struct{})
	var slowSkips []Chunk
	go func() {
		defer close(slowDone)
		for {
			ch, err := slow.Next(context.Background())
			if err != nil {
				return
			}
			if ch.Kind == ChunkRepaint && ch.Skipped {
				slowSkips = append(slowSkips, ch)
			}
			time.Sleep(20 * time.Millisecond) // a slow client, on purpose
		}
	}()
	input(t, fast[0], "stty -echo; "+markedCat(file, n)+"; exit\n")
	for i, r := range rs {
		r.wait(t)
		if got := between(t, r.out); !bytes.Equal(got, want) {
			t.Fatalf("fast client %d got %d bytes of %d, or different ones", i, len(got), len(want))
		}
		if len(r.repaints) != 0 || fast[i].Lags() != 0 {
			t.Fatalf("fast client %d: %d repaints after the first screen, %d lags", i, len(r.repaints), fast[i].Lags())
		}
	}
	select {
	case <-slowDone:
	case <-time.After(waitTimeout):
		t.Fatal("the slow client did not get the exit")
	}
	if slow.Lags() == 0 || len(slowSkips) == 0 || slowSkips[0].Data == nil {
		t.Fatalf("slow client: %d lags, %d repaints in place of output", slow.Lags(), len(slowSkips))
	}
}

// TestStallReleasesShell: a lone client that stops reading holds the shell
// for StallTimeout, then the shell runs free; the client gets a repaint
// showing the end when it reads again, and session status counts it.
func TestStallReleasesShell(t *testing.T) {
	t.Parallel()
	const stall = 500 * time.Millisecond
	e := newTestEnv(t, Config{StallTimeout: stall})
	const n = 8 << 20
	file, _ := payload(t, n)
	flag := filepath.Join(t.TempDir(), "finished")
	s := e.create(0)
	a := attach(t, s, AttachOptions{LastSeq: 0})
	input(t, a, "stty -echo; "+markedCat(file, n)+"; echo fin-$((6*7)); touch "+flag+"\n")
	// Not reading: the queue fills and the pump waits for us.
	start := time.Now()
	// Paused now, or paused and already let go by the stall (a busy
	// machine may look only after the stall timeout).
	for !s.paused.Load() && s.pausedTotal(time.Now()) == 0 {
		if time.Since(start) > waitTimeout {
			t.Fatal("the pump never waited for the client")
		}
		waitABit()
	}
	for {
		if _, err := os.Stat(flag); err == nil {
			break
		}
		if time.Since(start) > waitTimeout {
			t.Fatal("the shell never finished")
		}
		waitABit()
	}
	if d := time.Since(start); d < stall {
		t.Fatalf("the shell finished after %v, before the stall timeout", d)
	}
	if a.Lags() != 1 {
		t.Fatalf("%d lags, want 1", a.Lags())
	}
	if c := s.Info().Clients; len(c) != 1 || !c[0].Lagging {
		t.Fatalf("clients %+v, want one lagging", c)
	}
	// Back: whatever was queued before the stall was dropped; a repaint
	// stands in for it, and the stream goes on from there.
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	var ch Chunk
	for ch.Kind != ChunkRepaint {
		var err error
		if ch, err = a.Next(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// The payload is one long line: its rows come back soft-wrapped
	// (written through the margin), so count bytes, not line feeds.
	if !ch.Skipped || len(ch.Data) < 100*80 {
		t.Fatalf("repaint (skipped %v) without the scrollback", ch.Skipped)
	}
	screen := bytes.Clone(ch.Data)
	for !screenContains(screenOf(80, 24, screen), "fin-42") {
		next, err := a.Next(ctx)
		if err != nil {
			t.Fatalf("the end never showed: %v", err)
		}
		screen = append(screen, next.Data...)
	}
	if c := s.Info().Clients; len(c) != 1 || c[0].Repaints != 1 || c[0].Lagging {
		t.Fatalf("clients %+v, want one with 1 repaint", c)
	}
}

// Stats counts the output waiting for a client that does not read, by
// client: what an operator sees as the queues' cost.
func TestStatsQueuedBytes(t *testing.T) {
	e := newTestEnv(t, Config{})
	s := e.create(0)
	a := attach(t, s, AttachOptions{LastSeq: 0, Client: "ssh"}) // never reads
	input(t, a, "yes queued | head -c 200000\n")
	start := time.Now()
	for e.m.Stats().QueuedBytes["ssh"] < 100000 {
		if time.Since(start) > waitTimeout {
			t.Fatalf("queued %v", e.m.Stats().QueuedBytes)
		}
		waitABit()
	}
}
