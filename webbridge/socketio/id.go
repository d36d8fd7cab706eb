package socketio

import (
	"crypto/rand"
	"encoding/base64"
)

// newSocketID returns an unguessable socket id; it doubles as a room name.
func newSocketID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
