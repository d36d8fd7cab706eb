package socketio

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestDecodePacket(t *testing.T) {
	tests := []struct {
		in          string
		typ         byte
		nsp         string
		id          int64
		attachments int
		args        []string
	}{
		{in: "0", typ: 0, nsp: "/", id: noAck},
		{in: `0{"token":"123"}`, typ: 0, nsp: "/", id: noAck},
		{in: "0/admin,", typ: 0, nsp: "/admin", id: noAck},
		{in: "0/admin", typ: 0, nsp: "/admin", id: noAck},
		{in: `0/admin,{"a":1}`, typ: 0, nsp: "/admin", id: noAck},
		{in: "1/admin,", typ: 1, nsp: "/admin", id: noAck},
		{in: `2["hello",1,"2",{"3":[true]}]`, typ: 2, nsp: "/", id: noAck, args: []string{`"hello"`, `1`, `"2"`, `{"3":[true]}`}},
		{in: `2/admin,456["x"]`, typ: 2, nsp: "/admin", id: 456, args: []string{`"x"`}},
		{in: `3456[1, "a,]"]`, typ: 3, nsp: "/", id: 456, args: []string{`1`, `"a,]"`}},
		{in: `52-["b",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, typ: 5, nsp: "/", id: noAck, attachments: 2,
			args: []string{`"b"`, `{"_placeholder":true,"num":0}`, `{"_placeholder":true,"num":1}`}},
		{in: `61-/admin,7[{"_placeholder":true,"num":0}]`, typ: 6, nsp: "/admin", id: 7, attachments: 1, args: []string{`{"_placeholder":true,"num":0}`}},
	}
	for _, tt := range tests {
		p, err := decodePacket([]byte(tt.in))
		if err != nil {
			t.Errorf("decodePacket(%q): %v", tt.in, err)
			continue
		}
		if p.typ != tt.typ || p.nsp != tt.nsp || p.id != tt.id || p.attachments != tt.attachments {
			t.Errorf("decodePacket(%q) = type %d nsp %q id %d att %d", tt.in, p.typ, p.nsp, p.id, p.attachments)
		}
		if len(p.args) != len(tt.args) {
			t.Errorf("decodePacket(%q) args %q, want %q", tt.in, p.args, tt.args)
			continue
		}
		for i := range p.args {
			if string(p.args[i]) != tt.args[i] {
				t.Errorf("decodePacket(%q) arg %d = %s, want %s", tt.in, i, p.args[i], tt.args[i])
			}
		}
	}
}

func TestDecodePacketErrors(t *testing.T) {
	for _, in := range []string{
		"", "4abc", "7", "a", "42{}", `42abc["x"]`, "2[]", "2[1]", `2"x"`, `0"x"`, `0[1]`, `1{}`,
		"5-[\"x\"]", "5x-[\"x\"]", `599-["x"]`, `3["no id"]`, `2["x"`, `2["x"]]`,
		`4{"message":"x"}`, "2" + strings.Repeat("9", 20) + `["x"]`,
	} {
		if _, err := decodePacket([]byte(in)); err == nil {
			t.Errorf("decodePacket(%q) succeeded, want error", in)
		} else if !errors.Is(err, errMalformed) {
			t.Errorf("decodePacket(%q): %v is not errMalformed", in, err)
		}
	}
}

func TestEncodePacket(t *testing.T) {
	type obj struct {
		A int `json:"a"`
	}
	tests := []struct {
		typ   byte
		nsp   string
		id    int64
		event string
		args  []any
		want  string
		bins  int
	}{
		{packetEvent, "/", noAck, "hello", []any{"wörld\n\x1b[0m\"\\", 1, true, nil}, `42["hello","wörld\n\u001b[0m\"\\",1,true,null]`, 0},
		{packetEvent, "/admin", 12, "e", []any{obj{3}, json.RawMessage(`{"x":[1]}`)}, `42/admin,12["e",{"a":3},{"x":[1]}]`, 0},
		{packetEvent, "/", noAck, "b", []any{[]byte{1}, "s", []byte{2}}, `452-["b",{"_placeholder":true,"num":0},"s",{"_placeholder":true,"num":1}]`, 2},
		{packetAck, "/", 5, "", []any{1, "2"}, `435[1,"2"]`, 0},
		{packetAck, "/x", 5, "", []any{[]byte{9}}, `461-/x,5[{"_placeholder":true,"num":0}]`, 1},
		{packetEvent, "/", noAck, "t", []any{Text("a\xffb")}, `42["t","a\ufffdb"]`, 0},
		{packetEvent, "/", noAck, "file-chunk", []any{Fields{{"id", "d1"}, {"data", []byte{1, 2}}, {"n", 3}}, []byte{4}},
			`452-["file-chunk",{"id":"d1","data":{"_placeholder":true,"num":0},"n":3},{"_placeholder":true,"num":1}]`, 2},
		{packetAck, "/", 6, "", []any{Fields{{"ok", true}, {"content", []byte{}}}}, `461-6[{"ok":true,"content":{"_placeholder":true,"num":0}}]`, 1},
	}
	for _, tt := range tests {
		bufs, err := encodePacket(tt.typ, tt.nsp, tt.id, tt.event, tt.args)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(bufs[0].B); got != tt.want {
			t.Errorf("encode = %s\n          want %s", got, tt.want)
		}
		if len(bufs)-1 != tt.bins {
			t.Errorf("%s: %d attachments, want %d", tt.want, len(bufs)-1, tt.bins)
		}
		for _, b := range bufs[1:] {
			if !b.Binary() {
				t.Errorf("attachment not binary")
			}
		}
		releaseAll(bufs)
	}
	if _, err := encodePacket(packetEvent, "/", noAck, "x", []any{func() {}}); err == nil {
		t.Error("encoding a func succeeded")
	}
}

func TestAppendStringMatchesJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "quote\" back\\ slash", "\x00\x01\x1f\x7f", "ünï©ødé 🎉", "\u2028", "<&>"} {
		got := AppendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil || back != s {
			t.Errorf("AppendJSONString(%q) = %s, round trip %q %v", s, got, back, err)
		}
	}
}

func TestMessageAttachment(t *testing.T) {
	p, err := decodePacket([]byte(`51-["upload-chunk",{"uploadId":"u","data":{"_placeholder":true,"num":0}}]`))
	if err != nil {
		t.Fatal(err)
	}
	m := &Message{Args: p.args[1:], Attachments: [][]byte{{7, 8}}}
	var v struct {
		Data json.RawMessage `json:"data"`
	}
	if err := m.Decode(0, &v); err != nil {
		t.Fatal(err)
	}
	if b, ok := m.Attachment(v.Data); !ok || len(b) != 2 || b[0] != 7 {
		t.Fatalf("Attachment = %v %v", b, ok)
	}
	for _, raw := range []string{`"x"`, `{"_placeholder":true,"num":1}`, `{"_placeholder":true}`, ``} {
		if _, ok := m.Attachment(json.RawMessage(raw)); ok {
			t.Errorf("Attachment(%s) resolved", raw)
		}
	}
}

func TestMessageValues(t *testing.T) {
	p, err := decodePacket([]byte(`52-["e",{"_placeholder":true,"num":1},"x",{"_placeholder":true,"num":0}]`))
	if err != nil {
		t.Fatal(err)
	}
	m := &Message{Args: p.args[1:], Attachments: [][]byte{{0}, {1}}}
	if b, ok := m.Bytes(0); !ok || b[0] != 1 {
		t.Fatalf("Bytes(0) = %v %v", b, ok)
	}
	var s string
	if err := m.Decode(1, &s); err != nil || s != "x" {
		t.Fatalf("Decode(1) = %q %v", s, err)
	}
	var raw []byte
	if err := m.Decode(2, &raw); err != nil || raw[0] != 0 {
		t.Fatalf("Decode(2) = %v %v", raw, err)
	}
	if err := m.Decode(3, &s); err == nil {
		t.Fatal("Decode out of range succeeded")
	}
	vals := m.Values()
	if _, ok := vals[0].([]byte); !ok {
		t.Fatalf("Values()[0] is %T", vals[0])
	}
	if _, ok := vals[1].(json.RawMessage); !ok {
		t.Fatalf("Values()[1] is %T", vals[1])
	}
}

func FuzzDecodeSocketIOPacket(f *testing.F) {
	for _, s := range []string{
		"0", `0{"token":"1"}`, "0/custom,", "1", `2["message",1,"2",{"3":[true]}]`, `2/a,12["x"]`,
		`3456[1]`, `52-["b",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`,
		`61-/a,7[{"_placeholder":true,"num":0}]`, "4abc", "42{}", `42abc["x"]`, `2[" \\" ]"]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := decodePacket(in)
		if err != nil {
			return
		}
		for _, a := range p.args {
			if !json.Valid(a) {
				t.Fatalf("argument %q of %q is not valid JSON", a, in)
			}
		}
		m := &Message{Args: p.args, Attachments: make([][]byte, p.attachments)}
		for i := range m.Args {
			m.Bytes(i)
			var v any
			_ = m.Decode(i, &v)
		}
		m.Values()
	})
}
