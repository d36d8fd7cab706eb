package engineio

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestDirectWrite: an idle connection takes a small message on the caller's
// goroutine, readable by a client that negotiated compression; a busy one
// refuses it, and what is queued keeps its order.
func TestDirectWrite(t *testing.T) {
	ts, conns := directServer(t, &Server{PingInterval: time.Hour, EnableCompression: true, QueueBytes: 1 << 20}, true)
	ws := dialDirect(t, ts, true, true)
	conn := <-conns
	readWS(t, ws) // open

	// Idle once the open packet is acknowledged.
	var b *Buffer
	eventually(t, "a direct write", func() bool {
		b = textBuf("direct")
		if conn.trySend(b) {
			return true
		}
		b.Release()
		return false
	})
	if _, msg := readWS(t, ws); msg != "4direct" {
		t.Fatalf("got %q", msg)
	}
	if b := textBuf(strings.Repeat("y", directMax)); conn.trySend(b) {
		t.Fatal("a message over directMax was written directly")
	} else {
		b.Release()
	}

	// A client that reads nothing: the queue fills, and a small message
	// must wait behind it.
	bulk := Message{Data: []byte(strings.Repeat("x", 32<<10))}
	for conn.Send(bulk) == nil {
	}
	if b := textBuf("late"); conn.trySend(b) {
		t.Fatal("written directly past a full queue")
	} else {
		b.Release()
	}
	if err := conn.SendBuffersContext(context.Background(), textBuf("last")); err != nil {
		t.Fatal(err)
	}
	for {
		_, msg := readWS(t, ws)
		if msg == "4last" {
			break
		}
		if msg != "4"+string(bulk.Data) {
			t.Fatalf("got %d bytes %.20q, want bulk or last", len(msg), msg)
		}
	}
}

// TestDirectOrder: producers racing each other and the writer, with sizes
// on both sides of directMax; each producer's messages arrive whole and in
// order.
func TestDirectOrder(t *testing.T) {
	ts, conns := directServer(t, &Server{PingInterval: time.Hour, QueueBytes: 64 << 10}, false)
	ws := dialDirect(t, ts, false, false)
	conn := <-conns
	readWS(t, ws)

	produceInOrder(t, conn, ws, 4, 300, func(rnd *rand.Rand) string {
		if rnd.IntN(4) == 0 {
			return strings.Repeat("p", directMax+rnd.IntN(8<<10))
		}
		return ""
	})
}

// produceInOrder has producers send each messages on conn at once, each
// padded by pad, and checks that ws receives every one, each producer's in
// order. Pings on the way are answered.
func produceInOrder(t *testing.T, conn *Conn, ws *websocket.Conn, producers, each int, pad func(*rand.Rand) string) {
	t.Helper()
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(p), 7))
			for i := range each {
				b := textBuf(fmt.Sprintf("%d:%d:%s", p, i, pad(rnd)))
				if err := conn.SendBuffersContext(context.Background(), b); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	next := make([]int, producers)
	for n := 0; n < producers*each; {
		_, msg := readWS(t, ws)
		if msg == "2" {
			writeWS(t, ws, websocket.TextMessage, "3")
			continue
		}
		f := strings.SplitN(strings.TrimPrefix(msg, "4"), ":", 3)
		if len(f) != 3 {
			t.Fatalf("mangled message %.40q", msg)
		}
		p, _ := strconv.Atoi(f[0])
		i, _ := strconv.Atoi(f[1])
		if p < 0 || p >= producers || i != next[p] {
			t.Fatalf("producer %s sent %s, want %d", f[0], f[1], next[p])
		}
		next[p]++
		n++
	}
	wg.Wait()
}

// TestPongThroughWriter: a websocket ping is answered, ahead of the echo of
// the message that followed it.
func TestPongThroughWriter(t *testing.T) {
	ts, conns := directServer(t, &Server{PingInterval: time.Hour}, false)
	ws := dialDirect(t, ts, false, false)
	<-conns
	readWS(t, ws)
	pongs := make(chan string, 1)
	ws.SetPongHandler(func(data string) error {
		pongs <- data
		return nil
	})
	if err := ws.WriteControl(websocket.PingMessage, []byte("hi"), time.Now().Add(testTimeout)); err != nil {
		t.Fatal(err)
	}
	writeWS(t, ws, websocket.TextMessage, "4echo")
	if _, msg := readWS(t, ws); msg != "4echo" {
		t.Fatalf("got %q", msg)
	}
	select {
	case p := <-pongs:
		if p != "hi" {
			t.Fatalf("pong %q", p)
		}
	default:
		t.Fatal("no pong before the echo")
	}
}
