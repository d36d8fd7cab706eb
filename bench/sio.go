package main

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// sioConn is a minimal Socket.IO v5 client over Engine.IO v4's websocket
// transport: the open packet, CONNECT with an auth payload, ping/pong and
// EVENT packets. Every event goes to handle, on the reading goroutine, in
// the order it arrived; handle must not block for long.
type sioConn struct {
	ws     *websocket.Conn
	wmu    sync.Mutex
	handle func(event string, payload []byte)
	done   chan struct{} // closed when the reading goroutine ends
	err    error         // why it ended
}

// dialSIO connects to base (http://host:port) at path (e.g. /socket.io).
func dialSIO(base, path string, auth string, handle func(string, []byte)) (*sioConn, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	u.Scheme = "ws"
	u.Path = path + "/"
	u.RawQuery = "EIO=4&transport=websocket"
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 64 << 10, WriteBufferSize: 16 << 10}
	ws, _, err := d.Dial(u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", u, err)
	}
	c := &sioConn{ws: ws, handle: handle, done: make(chan struct{})}
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, msg, err := ws.ReadMessage()
	if err != nil || len(msg) == 0 || msg[0] != '0' {
		ws.Close()
		return nil, fmt.Errorf("engine.io open: %q %v", msg, err)
	}
	connect := "40"
	if auth != "" {
		connect += `{"token":` + strconv.Quote(auth) + `}`
	}
	if err := c.write(connect); err != nil {
		ws.Close()
		return nil, err
	}
	for {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			ws.Close()
			return nil, fmt.Errorf("socket.io connect: %w", err)
		}
		s := string(msg)
		if s == "2" {
			c.write("3")
			continue
		}
		if len(s) >= 2 && s[:2] == "44" {
			ws.Close()
			return nil, fmt.Errorf("socket.io connect refused: %s", s[2:])
		}
		if len(s) >= 2 && s[:2] == "40" {
			break
		}
		ws.Close()
		return nil, fmt.Errorf("socket.io connect: unexpected %q", s)
	}
	ws.SetReadDeadline(time.Time{})
	go c.read()
	return c, nil
}

func (c *sioConn) write(s string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.ws.SetWriteDeadline(time.Now().Add(30 * time.Second))
	return c.ws.WriteMessage(websocket.TextMessage, []byte(s))
}

// emit sends 42["event",payload]; payload is JSON.
func (c *sioConn) emit(event string, payload string) error {
	return c.write(`42[` + strconv.Quote(event) + `,` + payload + `]`)
}

func (c *sioConn) close() {
	c.ws.Close()
	<-c.done
}

func (c *sioConn) read() {
	defer close(c.done)
	// One buffer for every message: handlers keep nothing of it, and a
	// fresh one per message (ReadMessage) makes garbage at the rate of the
	// output, which the SSH clients beside this one do not.
	var buf bytes.Buffer
	for {
		_, r, err := c.ws.NextReader()
		if err == nil {
			buf.Reset()
			_, err = buf.ReadFrom(r)
		}
		if err != nil {
			c.err = err
			return
		}
		msg := buf.Bytes()
		switch {
		case len(msg) == 1 && msg[0] == '2':
			if err := c.write("3"); err != nil {
				c.err = err
				return
			}
		case len(msg) >= 2 && msg[0] == '4' && msg[1] == '2':
			ev, payload, err := decodeEvent(msg[2:])
			if err != nil {
				c.err = err
				c.ws.Close()
				return
			}
			c.handle(ev, payload)
		case len(msg) >= 2 && msg[0] == '4' && msg[1] == '1', len(msg) >= 1 && msg[0] == '1':
			c.err = errors.New("disconnected by the server")
			c.ws.Close()
			return
		}
	}
}

// decodeEvent splits the body of an EVENT packet ([ackid]["name",arg,...])
// into the event name and its first argument (raw JSON; nil if none).
func decodeEvent(b []byte) (string, []byte, error) {
	i := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' { // ack id
		i++
	}
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != '[' {
		return "", nil, fmt.Errorf("event packet: no array: %.40q", b)
	}
	i = skipSpace(b, i+1)
	end, err := skipValue(b, i)
	if err != nil || b[i] != '"' {
		return "", nil, fmt.Errorf("event packet: no name: %.40q", b)
	}
	name, err := unquote(nil, b[i:end])
	if err != nil {
		return "", nil, err
	}
	i = skipSpace(b, end)
	if i < len(b) && b[i] == ']' {
		return string(name), nil, nil
	}
	if i >= len(b) || b[i] != ',' {
		return "", nil, fmt.Errorf("event packet: bad separator: %.40q", b)
	}
	i = skipSpace(b, i+1)
	end, err = skipValue(b, i)
	if err != nil {
		return "", nil, err
	}
	return string(name), b[i:end], nil
}

// objectFields calls f with each key and raw value of a flat JSON object.
func objectFields(b []byte, f func(key string, val []byte)) error {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return fmt.Errorf("not an object: %.40q", b)
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return nil
	}
	var key []byte
	for {
		end, err := skipValue(b, i)
		if err != nil || b[i] != '"' {
			return fmt.Errorf("object key: %.40q", b[i:])
		}
		if key, err = unquote(key[:0], b[i:end]); err != nil {
			return err
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return fmt.Errorf("object: no colon")
		}
		i = skipSpace(b, i+1)
		end, err = skipValue(b, i)
		if err != nil {
			return err
		}
		f(string(key), b[i:end])
		i = skipSpace(b, end)
		if i >= len(b) {
			return fmt.Errorf("object: unterminated")
		}
		if b[i] == '}' {
			return nil
		}
		if b[i] != ',' {
			return fmt.Errorf("object: bad separator %q", b[i])
		}
		i = skipSpace(b, i+1)
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the end of the JSON value that starts at b[i].
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errors.New("json: unexpected end")
	}
	switch b[i] {
	case '"':
		// The closing quote is the first one after an even number of
		// backslashes. IndexByte scans a word at a time: the byte loop this
		// replaces made the benchmark's client, not the server, the limit
		// of a Socket.IO fan-out to 50 clients.
		for j := i + 1; ; j++ {
			k := bytes.IndexByte(b[j:], '"')
			if k < 0 {
				return 0, errors.New("json: unterminated string")
			}
			j += k
			n := 0
			for n < j-i-1 && b[j-1-n] == '\\' {
				n++
			}
			if n%2 == 0 {
				return j + 1, nil
			}
		}
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			case '"':
				e, err := skipValue(b, j)
				if err != nil {
					return 0, err
				}
				j = e - 1
			}
		}
		return 0, errors.New("json: unterminated container")
	default:
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' {
			j++
		}
		if j == i {
			return 0, fmt.Errorf("json: unexpected %q", b[i])
		}
		return j, nil
	}
}

// unquote appends the bytes a JSON string literal (quotes included) stands
// for to dst: escapes decoded, \u surrogate pairs joined, UTF-8 out.
func unquote(dst, s []byte) ([]byte, error) {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return dst, fmt.Errorf("json: not a string: %.20q", s)
	}
	s = s[1 : len(s)-1]
	for i := 0; i < len(s); {
		// Copy the run up to the next escape in one go.
		j := len(s)
		if k := bytes.IndexByte(s[i:], '\\'); k >= 0 {
			j = i + k
		}
		dst = append(dst, s[i:j]...)
		if j == len(s) {
			break
		}
		if j+1 >= len(s) {
			return dst, errors.New("json: trailing backslash")
		}
		switch c := s[j+1]; c {
		case '"', '\\', '/':
			dst = append(dst, c)
			i = j + 2
		case 'b':
			dst, i = append(dst, '\b'), j+2
		case 'f':
			dst, i = append(dst, '\f'), j+2
		case 'n':
			dst, i = append(dst, '\n'), j+2
		case 'r':
			dst, i = append(dst, '\r'), j+2
		case 't':
			dst, i = append(dst, '\t'), j+2
		case 'u':
			r, ok := hex4(s, j+2)
			if !ok {
				return dst, errors.New("json: bad \\u escape")
			}
			i = j + 6
			if utf16.IsSurrogate(r) {
				if r2, ok := hex4(s, i+2); ok && i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
					if c := utf16.DecodeRune(r, r2); c != utf8.RuneError {
						r, i = c, i+6
					} else {
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
		default:
			return dst, fmt.Errorf("json: bad escape \\%c", c)
		}
	}
	return dst, nil
}

func hex4(s []byte, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range s[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
