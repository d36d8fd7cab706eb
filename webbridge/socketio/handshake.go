package socketio

import (
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// Handshake describes how a socket connected.
type Handshake struct {
	Header     http.Header     // headers of the Engine.IO handshake request
	Query      url.Values      // its query parameters
	RemoteAddr string          // its network peer
	Host       string          // the Host it asked for
	Secure     bool            // whether it came over TLS
	Time       time.Time       // when the socket joined the namespace
	Auth       json.RawMessage // the CONNECT auth payload, {} when none
}

var emptyAuth = json.RawMessage(`{}`)

func newHandshake(r *http.Request, auth json.RawMessage) *Handshake {
	if len(auth) == 0 {
		auth = emptyAuth
	}
	return &Handshake{
		Header:     r.Header,
		Query:      r.URL.Query(),
		RemoteAddr: r.RemoteAddr,
		Host:       r.Host,
		Secure:     r.TLS != nil,
		Time:       time.Now(),
		Auth:       auth,
	}
}
