package engineio

import (
	"encoding/json"
	"errors"
	"net/http"
)

var (
	// ErrQueueFull is returned by the non-blocking send methods when the
	// connection's outbound queue has no room: the client is not keeping up.
	ErrQueueFull = errors.New("engineio: outbound queue full")
	// ErrClosed is returned when sending on a closed connection.
	ErrClosed = errors.New("engineio: connection closed")
)

// errorCode is the "code" of the JSON body of a rejected HTTP request, as
// the reference implementation numbers them; clients only log them.
type errorCode int

const (
	codeUnknownTransport   errorCode = 0
	codeUnknownSID         errorCode = 1
	codeBadHandshakeMethod errorCode = 2
	codeBadRequest         errorCode = 3
	codeForbidden          errorCode = 4
	codeUnsupportedVersion errorCode = 5
)

var errorMessages = map[errorCode]string{
	codeUnknownTransport:   "Transport unknown",
	codeUnknownSID:         "Session ID unknown",
	codeBadHandshakeMethod: "Bad handshake method",
	codeBadRequest:         "Bad request",
	codeForbidden:          "Forbidden",
	codeUnsupportedVersion: "Unsupported protocol version",
}

// writeError answers a rejected request the way Engine.IO clients expect.
func writeError(w http.ResponseWriter, status int, code errorCode) {
	body, _ := json.Marshal(struct {
		Code    errorCode `json:"code"`
		Message string    `json:"message"`
	}{code, errorMessages[code]})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
