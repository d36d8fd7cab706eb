package socketio

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// Handshake describes how a socket connected.
type Handshake struct {
	Header     http.Header     // headers of the Engine.IO handshake request, shared by its sockets
	RemoteAddr string          // its network peer
	Host       string          // the Host it asked for
	Secure     bool            // whether it came over TLS
	Time       time.Time       // when the socket joined the namespace
	Auth       json.RawMessage // the CONNECT auth payload, {} when none

	rawQuery string
}

// Query returns the handshake request's query parameters, parsed anew on
// each call: few read them, and every idle socket would keep them.
func (h *Handshake) Query() url.Values {
	q, _ := url.ParseQuery(h.rawQuery)
	return q
}

var emptyAuth = json.RawMessage(`{}`)

func newHandshake(r *http.Request, auth json.RawMessage) *Handshake {
	if len(auth) == 0 {
		auth = emptyAuth
	} else {
		// A copy: auth is part of the whole inbound message, which the
		// socket would otherwise keep for its life.
		auth = bytes.Clone(auth)
	}
	return &Handshake{
		Header:     r.Header,
		rawQuery:   r.URL.RawQuery,
		RemoteAddr: r.RemoteAddr,
		Host:       r.Host,
		Secure:     r.TLS != nil,
		Time:       time.Now(),
		Auth:       auth,
	}
}
