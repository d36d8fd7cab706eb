package webbridge

import (
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/codeterm/codeterm/webbridge/socketio"
)

// decodePayload unmarshals an event's first argument, which must be a JSON
// object, into v (a pointer to a struct with json tags). A wrongly typed
// field is reported as INVALID_PAYLOAD naming the field; unknown fields are
// ignored so newer clients keep working. Required fields are checked by the
// handler, which knows which ones it needs.
func decodePayload(m *socketio.Message, v any) *wireError {
	if m.Len() == 0 {
		return &wireError{Code: CodeInvalidPayload, Message: "invalid payload: an object argument is required"}
	}
	raw := m.Args[0]
	if len(raw) == 0 || raw[0] != '{' {
		return &wireError{Code: CodeInvalidPayload, Message: "invalid payload: the argument must be an object"}
	}
	err := json.Unmarshal(raw, v)
	if err == nil {
		return nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return invalidField(te.Field, te.Field+" must be "+jsType(te.Type))
	}
	return &wireError{Code: CodeInvalidPayload, Message: "invalid payload: the argument must be an object"}
}

// jsType names a Go type as a JavaScript programmer would.
func jsType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint64, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "a boolean"
	case reflect.Slice:
		return "an array"
	}
	return "an object"
}

func required(field, v string) *wireError {
	if v == "" {
		return invalidField(field, field+" is required")
	}
	return nil
}

// maxIDLen bounds ids and names coming from clients; real ones are far
// shorter, and a bound keeps junk out of logs and room names.
const maxIDLen = 128

// decodeSessionEvent decodes an event's payload into p and checks its
// sessionId (id points into p), which the answer then names. On failure it
// answers r and returns false.
func decodeSessionEvent(m *socketio.Message, r *reply, p any, id *string) bool {
	return decodeWithID(m, r, p, "sessionId", id, &r.sessionID)
}

// decodeWorkspaceEvent is decodeSessionEvent for a workspaceId.
func decodeWorkspaceEvent(m *socketio.Message, r *reply, p any, id *string) bool {
	return decodeWithID(m, r, p, "workspaceId", id, &r.workspaceID)
}

func decodeWithID(m *socketio.Message, r *reply, p any, field string, id, answerID *string) bool {
	if e := decodePayload(m, p); e != nil {
		r.fail(e)
		return false
	}
	*answerID = *id
	if e := requiredID(field, *id); e != nil {
		r.fail(e)
		return false
	}
	return true
}

func requiredID(field, v string) *wireError {
	if err := required(field, v); err != nil {
		return err
	}
	if len(v) > maxIDLen {
		return invalidField(field, field+" is too long")
	}
	return nil
}

// validSize checks optional terminal dimensions: both or neither.
func validSize(cols, rows *int) *wireError {
	if cols == nil && rows == nil {
		return nil
	}
	if cols == nil {
		return invalidField("cols", "cols is required with rows")
	}
	if rows == nil {
		return invalidField("rows", "rows is required with cols")
	}
	if *cols < 1 || *cols > 1000 {
		return invalidField("cols", "cols must be between 1 and 1000")
	}
	if *rows < 1 || *rows > 1000 {
		return invalidField("rows", "rows must be between 1 and 1000")
	}
	return nil
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

// outputEncoder builds terminal-output payloads in a reused buffer: it is
// the hot path, one call per chunk of shell output, and must not allocate
// once warmed up.
type outputEncoder struct {
	id     string
	prefix []byte // {"sessionId":"...","output":
	buf    []byte
	// binary sends output as a binary attachment holding the exact bytes,
	// for a client that asked for it in its handshake (auth.binary).
	binary bool
	fields socketio.Fields
}

func newOutputEncoder(sessionID string, binary bool) *outputEncoder {
	p := append([]byte(`{"sessionId":`), strconv.Quote(sessionID)...)
	return &outputEncoder{id: sessionID, prefix: append(p, `,"output":`...), binary: binary}
}

// payload returns terminal-output's argument for one chunk, valid until the
// next call: the JSON object, or in binary mode the same object with output
// as an attachment.
func (e *outputEncoder) payload(data []byte, seq int64, kind string, now time.Time) any {
	if !e.binary {
		return e.encode(data, seq, kind, now)
	}
	e.buf = now.UTC().AppendFormat(e.buf[:0], jsTime)
	e.fields = append(e.fields[:0],
		socketio.Field{Key: "sessionId", Value: e.id},
		socketio.Field{Key: "output", Value: data},
		socketio.Field{Key: "seq", Value: seq},
		socketio.Field{Key: "timestamp", Value: socketio.Text(e.buf)})
	if kind != "" {
		e.fields = append(e.fields, socketio.Field{Key: kind, Value: true})
	}
	return e.fields
}

// encode returns the JSON object for one chunk; it is valid until the next
// call. kind is "", "repaint" or "query": the last two add a flag.
func (e *outputEncoder) encode(data []byte, seq int64, kind string, now time.Time) json.RawMessage {
	b := append(e.buf[:0], e.prefix...)
	b = socketio.AppendJSONString(b, data)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, `,"timestamp":"`...)
	b = now.UTC().AppendFormat(b, jsTime)
	b = append(b, '"')
	if kind != "" {
		b = append(b, `,"`...)
		b = append(b, kind...)
		b = append(b, `":true`...)
	}
	b = append(b, '}')
	e.buf = b
	return b
}

// incompleteTail returns the length of the trailing bytes of b that begin
// a UTF-8 sequence the next chunk will complete. Output is cut there so a
// character is never split across two terminal-output strings (each would
// turn into U+FFFD) and seq stays the exact offset of what was sent.
func incompleteTail(b []byte) int {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax+1; i-- {
		if utf8.RuneStart(b[i]) {
			if utf8.FullRune(b[i:]) {
				return 0
			}
			return len(b) - i
		}
	}
	return 0
}
