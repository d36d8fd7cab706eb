package engineio

import (
	"encoding/base64"
	"errors"
	"fmt"
)

// Engine.IO v4 packet types, as their wire characters.
const (
	typeOpen    byte = '0'
	typeClose   byte = '1'
	typePing    byte = '2'
	typePong    byte = '3'
	typeMessage byte = '4'
	typeUpgrade byte = '5'
	typeNoop    byte = '6'
)

// recordSeparator joins packets in a long-polling payload.
const recordSeparator byte = 0x1e

// Control packets are constants so the priority lane never allocates.
var (
	pingPacket  = []byte{typePing}
	pongPacket  = []byte{typePong}
	noopPacket  = []byte{typeNoop}
	closePacket = []byte{typeClose}
)

var errEmptyPacket = errors.New("empty packet")

// packet is one decoded inbound Engine.IO packet. Binary packets are always
// messages.
type packet struct {
	typ    byte
	binary bool
	data   []byte
}

// decodePacket decodes a text packet (a websocket text frame or one record of
// a polling payload without the "b" prefix).
func decodePacket(text []byte) (packet, error) {
	if len(text) == 0 {
		return packet{}, errEmptyPacket
	}
	t := text[0]
	if t < typeOpen || t > typeNoop {
		return packet{}, fmt.Errorf("unknown packet type %q", t)
	}
	return packet{typ: t, data: text[1:]}, nil
}

// decodePayload splits a long-polling request body into packets. Records that
// start with 'b' carry base64-encoded binary messages.
func decodePayload(body []byte) ([]packet, error) {
	if len(body) == 0 {
		return nil, errEmptyPacket
	}
	var packets []packet
	for len(body) > 0 {
		rec := body
		rest := []byte(nil)
		for i, c := range body {
			if c == recordSeparator {
				rec, rest = body[:i], body[i+1:]
				if len(rest) == 0 {
					// A trailing separator would hide an empty record.
					return nil, fmt.Errorf("record %d: %w", len(packets)+1, errEmptyPacket)
				}
				break
			}
		}
		body = rest
		if len(rec) > 0 && rec[0] == 'b' {
			data := make([]byte, base64.StdEncoding.DecodedLen(len(rec)-1))
			n, err := base64.StdEncoding.Decode(data, rec[1:])
			if err != nil {
				return nil, fmt.Errorf("record %d: base64: %w", len(packets), err)
			}
			packets = append(packets, packet{typ: typeMessage, binary: true, data: data[:n]})
			continue
		}
		p, err := decodePacket(rec)
		if err != nil {
			return nil, fmt.Errorf("record %d: %w", len(packets), err)
		}
		packets = append(packets, p)
	}
	return packets, nil
}

// appendPayloadRecord appends one outbound packet to a polling payload.
// Text packets are already in wire form; binary ones become "b"+base64.
func appendPayloadRecord(dst []byte, data []byte, binary bool) []byte {
	if !binary {
		return append(dst, data...)
	}
	dst = append(dst, 'b')
	return base64.StdEncoding.AppendEncode(dst, data)
}
