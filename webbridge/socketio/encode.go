package socketio

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/codeterm/codeterm/webbridge/socketio/engineio"
)

// Text is a byte slice sent as a JSON string rather than as a binary
// attachment: it saves the string conversion when relaying terminal output.
// Invalid UTF-8 is replaced by U+FFFD, as for string arguments.
type Text []byte

// Fields is an object argument whose []byte values travel as binary
// attachments, the way socket.io-client sends {data: ArrayBuffer}: the
// client receives an object with an ArrayBuffer in those fields. Other
// values are encoded like arguments. Keys are written in order.
type Fields []Field

// Field is one key of a Fields object.
type Field struct {
	Key   string
	Value any
}

// encodePacket encodes an EVENT (event != "") or ACK packet and its binary
// attachments into wire buffers, one reference each owned by the caller.
// Top-level []byte arguments become attachments; strings and Text are
// escaped directly; json.RawMessage is copied verbatim; anything else goes
// through encoding/json.
func encodePacket(typ byte, nsp string, id int64, event string, args []any) ([]*engineio.Buffer, error) {
	nbin := 0
	for _, a := range args {
		switch a := a.(type) {
		case []byte:
			nbin++
		case Fields:
			for _, f := range a {
				if _, ok := f.Value.([]byte); ok {
					nbin++
				}
			}
		}
	}
	head := engineio.NewTextBuffer()
	b := head.B
	if nbin > 0 {
		typ += packetBinaryEvent - packetEvent // EVENT→BINARY_EVENT, ACK→BINARY_ACK
		b = append(b, '0'+typ)
		b = strconv.AppendInt(b, int64(nbin), 10)
		b = append(b, '-')
	} else {
		b = append(b, '0'+typ)
	}
	b = appendNamespace(b, nsp)
	if id != noAck {
		b = strconv.AppendInt(b, id, 10)
	}
	b = append(b, '[')
	if event != "" {
		b = AppendJSONString(b, event)
	}
	bufs := make([]*engineio.Buffer, 1, 1+nbin)
	num := 0
	for i, a := range args {
		if i > 0 || event != "" {
			b = append(b, ',')
		}
		if raw, ok := a.([]byte); ok {
			b, bufs = appendAttachment(b, bufs, raw, &num)
			continue
		}
		var err error
		if fs, ok := a.(Fields); ok {
			b, bufs, err = appendFields(b, bufs, fs, &num)
		} else {
			b, err = appendValue(b, a)
		}
		if err != nil {
			head.B = b
			bufs[0] = head
			releaseAll(bufs)
			return nil, fmt.Errorf("socketio: encode argument %d: %w", i, err)
		}
	}
	head.B = append(b, ']')
	bufs[0] = head
	return bufs, nil
}

// appendAttachment writes a placeholder for raw and queues raw as the
// next attachment.
func appendAttachment(b []byte, bufs []*engineio.Buffer, raw []byte, num *int) ([]byte, []*engineio.Buffer) {
	b = append(b, `{"_placeholder":true,"num":`...)
	b = strconv.AppendInt(b, int64(*num), 10)
	b = append(b, '}')
	*num++
	att := engineio.NewBinaryBuffer()
	att.B = append(att.B, raw...)
	return b, append(bufs, att)
}

func appendFields(b []byte, bufs []*engineio.Buffer, fs Fields, num *int) ([]byte, []*engineio.Buffer, error) {
	b = append(b, '{')
	for i, f := range fs {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendJSONString(b, f.Key)
		b = append(b, ':')
		if raw, ok := f.Value.([]byte); ok {
			b, bufs = appendAttachment(b, bufs, raw, num)
			continue
		}
		var err error
		if b, err = appendValue(b, f.Value); err != nil {
			return b, bufs, fmt.Errorf("field %s: %w", f.Key, err)
		}
	}
	return append(b, '}'), bufs, nil
}

// encodeControl encodes CONNECT, CONNECT_ERROR or DISCONNECT with an
// optional JSON payload.
func encodeControl(typ byte, nsp string, payload []byte) *engineio.Buffer {
	buf := engineio.NewTextBuffer()
	b := append(buf.B, '0'+typ)
	b = appendNamespace(b, nsp)
	buf.B = append(b, payload...)
	return buf
}

func appendNamespace(b []byte, nsp string) []byte {
	if nsp == "/" || nsp == "" {
		return b
	}
	return append(append(b, nsp...), ',')
}

func appendValue(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case string:
		return AppendJSONString(b, v), nil
	case Text:
		return AppendJSONString(b, unsafe.String(unsafe.SliceData(v), len(v))), nil
	case json.RawMessage:
		if len(v) == 0 {
			return append(b, "null"...), nil
		}
		return append(b, v...), nil
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case uint64:
		return strconv.AppendUint(b, v, 10), nil
	}
	j, err := json.Marshal(v)
	if err != nil {
		return b, err
	}
	return append(b, j...), nil
}

// safeJSON marks the ASCII bytes a JSON string may hold unescaped.
var safeJSON = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string, for callers that build
// payloads by hand on the hot path. Invalid UTF-8 becomes U+FFFD:
// browsers fail a websocket whose text frame is not UTF-8.
func AppendJSONString[T ~string | ~[]byte](b []byte, s T) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if safeJSON[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := decodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func releaseAll(bufs []*engineio.Buffer) {
	for _, b := range bufs {
		if b != nil {
			b.Release()
		}
	}
}

func decodeRune[T ~string | ~[]byte](s T) (rune, int) {
	switch v := any(s).(type) {
	case string:
		return utf8.DecodeRuneInString(v)
	case []byte:
		return utf8.DecodeRune(v)
	}
	return utf8.DecodeRuneInString(string(s))
}
