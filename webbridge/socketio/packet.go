package socketio

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Socket.IO v5 packet types.
const (
	packetConnect      byte = 0
	packetDisconnect   byte = 1
	packetEvent        byte = 2
	packetAck          byte = 3
	packetConnectError byte = 4
	packetBinaryEvent  byte = 5
	packetBinaryAck    byte = 6
)

// maxAttachments bounds the binary attachments a client may announce for one
// packet, so a header cannot make the server buffer without limit.
const maxAttachments = 16

// noAck marks a packet without an ack id.
const noAck int64 = -1

// maxAckDigits keeps ack ids well inside int64 (and JavaScript's safe
// integers).
const maxAckDigits = 15

// packet is a decoded inbound Socket.IO packet. Its attachments, if any,
// arrive as the following binary Engine.IO messages.
type packet struct {
	typ         byte
	nsp         string
	id          int64
	attachments int
	data        []byte // JSON payload, possibly empty
	args        []json.RawMessage
}

var errMalformed = errors.New("malformed packet")

// decodePacket parses the text form
//
//	<type>[<attachments>-][<namespace>,][<ack id>][<JSON payload>]
//
// and checks the payload has the shape its type requires.
func decodePacket(s []byte) (packet, error) {
	p := packet{nsp: "/", id: noAck}
	if len(s) == 0 || s[0] < '0' || s[0] > '6' {
		return p, fmt.Errorf("%w: bad type", errMalformed)
	}
	p.typ = s[0] - '0'
	i := 1
	if p.typ == packetBinaryEvent || p.typ == packetBinaryAck {
		start := i
		n := 0
		for i < len(s) && isDigit(s[i]) && i-start < 4 {
			n = n*10 + int(s[i]-'0')
			i++
		}
		if i == start || i >= len(s) || s[i] != '-' {
			return p, fmt.Errorf("%w: bad attachment count", errMalformed)
		}
		if n > maxAttachments {
			return p, fmt.Errorf("%w: %d attachments", errMalformed, n)
		}
		p.attachments = n
		i++
	}
	if i < len(s) && s[i] == '/' {
		start := i
		for i < len(s) && s[i] != ',' {
			i++
		}
		p.nsp = string(s[start:i])
		if i < len(s) {
			i++ // the comma
		}
	}
	if i < len(s) && isDigit(s[i]) {
		start := i
		var id int64
		for i < len(s) && isDigit(s[i]) {
			if i-start >= maxAckDigits {
				return p, fmt.Errorf("%w: ack id too long", errMalformed)
			}
			id = id*10 + int64(s[i]-'0')
			i++
		}
		p.id = id
	}
	p.data = s[i:]
	if len(p.data) > 0 && !json.Valid(p.data) {
		return p, fmt.Errorf("%w: invalid JSON payload", errMalformed)
	}
	if err := p.checkPayload(); err != nil {
		return p, err
	}
	return p, nil
}

// checkPayload enforces what each type may carry from a client.
func (p *packet) checkPayload() error {
	first := byte(0)
	if len(p.data) > 0 {
		first = p.data[0]
	}
	switch p.typ {
	case packetConnect:
		if first != 0 && first != '{' {
			return fmt.Errorf("%w: CONNECT payload must be an object", errMalformed)
		}
	case packetDisconnect:
		if first != 0 {
			return fmt.Errorf("%w: DISCONNECT carries no payload", errMalformed)
		}
	case packetEvent, packetBinaryEvent, packetAck, packetBinaryAck:
		if first != '[' {
			return fmt.Errorf("%w: payload must be an array", errMalformed)
		}
		args, err := splitArray(p.data)
		if err != nil {
			return err
		}
		p.args = args
		isEvent := p.typ == packetEvent || p.typ == packetBinaryEvent
		if isEvent && (len(args) == 0 || len(args[0]) == 0 || args[0][0] != '"') {
			return fmt.Errorf("%w: event name must be a string", errMalformed)
		}
		if !isEvent && p.id == noAck {
			return fmt.Errorf("%w: ACK without id", errMalformed)
		}
	default: // CONNECT_ERROR only flows server to client
		return fmt.Errorf("%w: unexpected type %d", errMalformed, p.typ)
	}
	return nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// splitArray returns the raw elements of a valid JSON array, sharing its
// memory.
func splitArray(data []byte) ([]json.RawMessage, error) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '[' {
		return nil, fmt.Errorf("%w: not an array", errMalformed)
	}
	i = skipSpace(data, i+1)
	var out []json.RawMessage
	if i < len(data) && data[i] == ']' {
		return out, nil
	}
	for i < len(data) {
		start := i
		depth := 0
		inString := false
	scan:
		for ; i < len(data); i++ {
			c := data[i]
			switch {
			case inString:
				if c == '\\' {
					i++
				} else if c == '"' {
					inString = false
				}
			case c == '"':
				inString = true
			case c == '[' || c == '{':
				depth++
			case c == ']' || c == '}':
				if depth == 0 {
					break scan
				}
				depth--
			case c == ',' && depth == 0:
				break scan
			}
		}
		if i >= len(data) {
			break
		}
		end := i
		for end > start && isSpace(data[end-1]) {
			end--
		}
		out = append(out, json.RawMessage(data[start:end]))
		if data[i] == ']' {
			return out, nil
		}
		i = skipSpace(data, i+1)
	}
	return nil, fmt.Errorf("%w: unterminated array", errMalformed)
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
