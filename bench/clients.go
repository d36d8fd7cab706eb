package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// In-process clients: x/crypto SSH and the Socket.IO client, each turned into
// a term whose output goes through a pipe, like the client processes'.

// dialSSH opens an SSH connection with the benchmark's key.
func dialSSH(port, user, keyFile string) (*ssh.Client, error) {
	pem, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, err
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		return nil, err
	}
	return ssh.Dial("tcp", net.JoinHostPort("127.0.0.1", port), &ssh.ClientConfig{
		User:            user,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), // a throwaway server on loopback
		Timeout:         30 * time.Second,
	})
}

// sshTerm opens a session channel with a PTY and runs command on it (the
// login shell if command is empty).
func sshTerm(c *ssh.Client, command string, cols, rows int) (*term, error) {
	s, err := c.NewSession()
	if err != nil {
		return nil, err
	}
	if err := s.RequestPty("xterm-256color", rows, cols, ssh.TerminalModes{}); err != nil {
		s.Close()
		return nil, err
	}
	in, err := s.StdinPipe()
	if err != nil {
		s.Close()
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		s.Close()
		return nil, err
	}
	s.Stdout, s.Stderr = w, w
	if command == "" {
		err = s.Shell()
	} else {
		err = s.Start(command)
	}
	if err != nil {
		s.Close()
		r.Close()
		w.Close()
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		s.Wait()
		w.Close()
		close(done)
	}()
	return &term{in: in, out: r, buf: make([]byte, 256<<10), done: done, kill: func() { s.Close() }}, nil
}

// sioTerms is one Socket.IO connection carrying terminals in the seed's
// events (create-terminal, terminal-output, ...), codeterm's or server.mjs's.
type sioTerms struct {
	c        *sioConn
	mu       sync.Mutex
	sess     map[string]*sioSess
	creating *sioSess      // the create-terminal in flight, at most one
	replies  chan sioReply // terminal-created, terminal-attached, errors
	createMu sync.Mutex
	attachID string // the attach-terminal in flight
	out      []byte // decode buffer, reading goroutine only
}

type sioSess struct {
	id    string
	w     *os.File
	first chan struct{} // closed on the first output
	done  chan struct{} // closed at process-exit or when the connection ends
	once  sync.Once
	got   bool
}

type sioReply struct {
	event string
	id    string
	err   error
}

func (s *sioSess) end() {
	s.once.Do(func() {
		s.w.Close()
		close(s.done)
	})
}

func dialTerms(base, token string) (*sioTerms, error) {
	t := &sioTerms{sess: map[string]*sioSess{}, replies: make(chan sioReply, 16)}
	c, err := dialSIO(base, "/socket.io", token, t.handle)
	if err != nil {
		return nil, err
	}
	t.c = c
	go func() {
		<-c.done
		t.mu.Lock()
		for _, s := range t.sess {
			s.end()
		}
		t.mu.Unlock()
	}()
	return t, nil
}

func (t *sioTerms) close() { t.c.close() }

// handle runs on the reading goroutine.
func (t *sioTerms) handle(event string, payload []byte) {
	switch event {
	case "terminal-output":
		var id, raw []byte
		objectFields(payload, func(k string, v []byte) {
			switch k {
			case "sessionId":
				id = v
			case "output":
				raw = v
			}
		})
		sid, _ := unquote(nil, id)
		t.mu.Lock()
		s := t.sess[string(sid)]
		t.mu.Unlock()
		if s == nil {
			return // a session this client has let go
		}
		var err error
		if t.out, err = unquote(t.out[:0], raw); err != nil {
			return
		}
		if !s.got {
			s.got = true
			close(s.first)
		}
		s.w.Write(t.out) // blocks while the reader is behind, as a slow client would
	case "process-exit", "terminal-killed":
		id := stringField(payload, "sessionId")
		t.mu.Lock()
		s := t.sess[id]
		delete(t.sess, id)
		t.mu.Unlock()
		if s != nil {
			s.end()
		}
	case "terminal-created":
		id := stringField(payload, "sessionId")
		t.mu.Lock()
		if s := t.creating; s != nil {
			s.id = id
			t.sess[id] = s
			t.creating = nil
		}
		t.mu.Unlock()
		t.replies <- sioReply{event: event, id: id}
	case "terminal-attached":
		t.replies <- sioReply{event: event, id: stringField(payload, "sessionId")}
	case "terminal-error", "error":
		// Errors about a session other than the one being attached answer
		// a kill-terminal of one that had ended already: not ours to wait for.
		id := stringField(payload, "sessionId")
		t.mu.Lock()
		mine := id == "" || id == t.attachID
		t.mu.Unlock()
		if mine {
			t.replies <- sioReply{event: event, err: fmt.Errorf("%s: %s", event, payload)}
		}
	}
}

func stringField(obj []byte, key string) string {
	var out string
	objectFields(obj, func(k string, v []byte) {
		if k == key {
			s, _ := unquote(nil, v)
			out = string(s)
		}
	})
	return out
}

func newSioSess() (*sioSess, *os.File, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	return &sioSess{w: w, first: make(chan struct{}), done: make(chan struct{})}, r, nil
}

// drainReplies drops replies nobody waited for.
func (t *sioTerms) drainReplies() {
	for {
		select {
		case <-t.replies:
		default:
			return
		}
	}
}

func (t *sioTerms) await(event string) (sioReply, error) {
	select {
	case r := <-t.replies:
		if r.err != nil {
			return r, r.err
		}
		if r.event != event {
			return r, fmt.Errorf("want %s, got %s", event, r.event)
		}
		return r, nil
	case <-t.c.done:
		return sioReply{}, fmt.Errorf("connection ended: %v", t.c.err)
	case <-time.After(30 * time.Second):
		return sioReply{}, fmt.Errorf("no %s", event)
	}
}

// create opens a new terminal in a workspace; this connection is attached.
func (t *sioTerms) create(workspaceID string, cols, rows int) (*term, *sioSess, error) {
	t.createMu.Lock()
	defer t.createMu.Unlock()
	s, r, err := newSioSess()
	if err != nil {
		return nil, nil, err
	}
	t.drainReplies()
	t.mu.Lock()
	t.creating = s
	t.mu.Unlock()
	err = t.c.emit("create-terminal", fmt.Sprintf(`{"workspaceId":%s,"cols":%d,"rows":%d}`, jsonQuote(workspaceID), cols, rows))
	if err == nil {
		_, err = t.await("terminal-created")
	}
	if err != nil {
		t.mu.Lock()
		t.creating = nil
		t.mu.Unlock()
		s.w.Close()
		r.Close()
		return nil, nil, err
	}
	return t.term(s, r), s, nil
}

// attach attaches this connection to an existing session (codeterm only).
func (t *sioTerms) attach(id string, cols, rows int) (*term, *sioSess, error) {
	t.createMu.Lock()
	defer t.createMu.Unlock()
	s, r, err := newSioSess()
	if err != nil {
		return nil, nil, err
	}
	s.id = id
	t.drainReplies()
	t.mu.Lock()
	t.sess[id] = s
	t.attachID = id
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		t.attachID = ""
		t.mu.Unlock()
	}()
	err = t.c.emit("attach-terminal", fmt.Sprintf(`{"sessionId":%s,"cols":%d,"rows":%d}`, jsonQuote(id), cols, rows))
	if err == nil {
		_, err = t.await("terminal-attached")
	}
	if err != nil {
		t.mu.Lock()
		delete(t.sess, id)
		t.mu.Unlock()
		s.w.Close()
		r.Close()
		return nil, nil, err
	}
	return t.term(s, r), s, nil
}

// detach stops this connection's view of a session, which lives on.
func (t *sioTerms) detach(s *sioSess) {
	t.c.emit("detach-terminal", `{"sessionId":`+jsonQuote(s.id)+`}`)
	t.mu.Lock()
	delete(t.sess, s.id)
	t.mu.Unlock()
	s.end()
}

func (t *sioTerms) term(s *sioSess, r *os.File) *term {
	return &term{
		in:   sioInput{t.c, s},
		out:  r,
		buf:  make([]byte, 256<<10),
		done: s.done,
		kill: func() {
			t.c.emit("kill-terminal", `{"sessionId":`+jsonQuote(s.id)+`}`)
			select {
			case <-s.done:
			case <-time.After(5 * time.Second):
				s.end()
			}
		},
	}
}

// sioInput sends each write as one terminal-input.
type sioInput struct {
	c *sioConn
	s *sioSess
}

func (w sioInput) Write(p []byte) (int, error) {
	select {
	case <-w.s.done:
		return 0, io.ErrClosedPipe
	default:
	}
	if err := w.c.emit("terminal-input", `{"sessionId":`+jsonQuote(w.s.id)+`,"data":`+jsonQuote(string(p))+`}`); err != nil {
		return 0, err
	}
	return len(p), nil
}

// jsonQuote quotes s as a JSON string.
func jsonQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			b.WriteString(`\u00`)
			h := strconv.FormatInt(int64(r), 16)
			if len(h) < 2 {
				b.WriteByte('0')
			}
			b.WriteString(h)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
