package engineio

import (
	"strings"
	"testing"
)

func BenchmarkDecodePayload(b *testing.B) {
	body := []byte(strings.Repeat(`42["input","ls -la\r"]`+"\x1e", 15) + "bAQIDBA==")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := decodePayload(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendPayload(b *testing.B) {
	q := newOutQueue(1 << 30)
	msg := strings.Repeat("x", 1024)
	var dst []byte
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		for j := 0; j < 16; j++ {
			buf := NewTextBuffer()
			buf.B = append(buf.B, msg...)
			_ = q.tryPush([]*Buffer{buf})
		}
		dst, _ = q.appendPayload(dst[:0], 1<<30)
	}
}
