package socketio

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Message is the argument list of a received event or acknowledgement.
//
// Args holds each argument's JSON text. Binary data sent by the client
// (ArrayBuffer, Blob, Buffer...) travels as attachments: its place in Args
// holds a placeholder {"_placeholder":true,"num":N} and the bytes are
// Attachments[N]. Bytes, Decode and Values resolve top-level placeholders;
// nested ones are left for the caller to look up.
//
// A Message and its slices belong to the handler that receives it.
type Message struct {
	Args        []json.RawMessage
	Attachments [][]byte
}

// Len returns the number of arguments.
func (m *Message) Len() int { return len(m.Args) }

// Bytes returns argument i if it is a binary attachment.
func (m *Message) Bytes(i int) ([]byte, bool) {
	if i < 0 || i >= len(m.Args) {
		return nil, false
	}
	n, ok := placeholderNum(m.Args[i])
	if !ok || n >= len(m.Attachments) {
		return nil, false
	}
	return m.Attachments[n], true
}

// Attachment resolves a placeholder found nested in an argument, such as
// the data field of {uploadId, data: ArrayBuffer}.
func (m *Message) Attachment(raw json.RawMessage) ([]byte, bool) {
	n, ok := placeholderNum(raw)
	if !ok || n >= len(m.Attachments) {
		return nil, false
	}
	return m.Attachments[n], true
}

// Decode unmarshals argument i into v. A binary argument decodes into a
// *[]byte.
func (m *Message) Decode(i int, v any) error {
	if i < 0 || i >= len(m.Args) {
		return fmt.Errorf("socketio: argument %d of %d missing", i, len(m.Args))
	}
	if b, ok := m.Bytes(i); ok {
		if p, ok := v.(*[]byte); ok {
			*p = b
			return nil
		}
	}
	if err := json.Unmarshal(m.Args[i], v); err != nil {
		return fmt.Errorf("socketio: argument %d: %w", i, err)
	}
	return nil
}

// Values returns the arguments ready to pass to Emit or an AckFunc: binary
// ones as []byte, the others as json.RawMessage, so relaying a message
// reproduces it.
func (m *Message) Values() []any {
	out := make([]any, len(m.Args))
	for i, a := range m.Args {
		if b, ok := m.Bytes(i); ok {
			out[i] = b
		} else {
			out[i] = a
		}
	}
	return out
}

var placeholderKey = []byte(`"_placeholder"`)

// placeholderNum recognises {"_placeholder":true,"num":N}.
func placeholderNum(raw json.RawMessage) (int, bool) {
	if len(raw) == 0 || raw[0] != '{' || !bytes.Contains(raw, placeholderKey) {
		return 0, false
	}
	var ph struct {
		Placeholder bool `json:"_placeholder"`
		Num         *int `json:"num"`
	}
	if json.Unmarshal(raw, &ph) != nil || !ph.Placeholder || ph.Num == nil || *ph.Num < 0 {
		return 0, false
	}
	return *ph.Num, true
}
