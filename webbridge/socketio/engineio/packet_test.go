package engineio

import (
	"bytes"
	"testing"
)

func TestDecodePayload(t *testing.T) {
	tests := []struct {
		in   string
		want []packet
		err  bool
	}{
		{in: "4hello", want: []packet{{typ: '4', data: []byte("hello")}}},
		{in: "4a\x1e4b\x1e2", want: []packet{{typ: '4', data: []byte("a")}, {typ: '4', data: []byte("b")}, {typ: '2', data: []byte{}}}},
		{in: "4hello\x1ebAQIDBA==", want: []packet{{typ: '4', data: []byte("hello")}, {typ: '4', binary: true, data: []byte{1, 2, 3, 4}}}},
		{in: "1", want: []packet{{typ: '1', data: []byte{}}}},
		{in: "", err: true},
		{in: "abc", err: true},
		{in: "4a\x1e", err: true},
		{in: "4a\x1e\x1e4b", err: true},
		{in: "b!!!", err: true},
		{in: "7x", err: true},
	}
	for _, tt := range tests {
		got, err := decodePayload([]byte(tt.in))
		if tt.err {
			if err == nil {
				t.Errorf("decodePayload(%q) = %v, want error", tt.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("decodePayload(%q): %v", tt.in, err)
			continue
		}
		if len(got) != len(tt.want) {
			t.Fatalf("decodePayload(%q) = %d packets, want %d", tt.in, len(got), len(tt.want))
		}
		for i := range got {
			g, w := got[i], tt.want[i]
			if g.typ != w.typ || g.binary != w.binary || !bytes.Equal(g.data, w.data) {
				t.Errorf("decodePayload(%q)[%d] = %+v, want %+v", tt.in, i, g, w)
			}
		}
	}
}

func TestAppendPayloadRecord(t *testing.T) {
	got := appendPayloadRecord([]byte("4a\x1e"), []byte{1, 2, 3, 4}, true)
	if string(got) != "4a\x1ebAQIDBA==" {
		t.Fatalf("got %q", got)
	}
}

func FuzzDecodeEngineIOPayload(f *testing.F) {
	for _, s := range []string{"4hello", "4a\x1e4b", "bAQIDBA==", "2probe", "", "\x1e", "b", "4\x1eb==", "6\x1e1"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		packets, err := decodePayload(body)
		if err != nil {
			return
		}
		// What decodes must re-encode to something that decodes the same.
		var out []byte
		for i, p := range packets {
			if i > 0 {
				out = append(out, recordSeparator)
			}
			if p.binary {
				out = appendPayloadRecord(out, p.data, true)
			} else {
				out = append(append(out, p.typ), p.data...)
			}
		}
		again, err := decodePayload(out)
		if err != nil || len(again) != len(packets) {
			t.Fatalf("re-decode of %q: %v (%d vs %d packets)", out, err, len(again), len(packets))
		}
	})
}
