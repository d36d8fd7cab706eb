package vt

import (
	"fmt"
	"math/rand"
	"runtime"
	"testing"
)

// typicalText is terminal output as a build log or `ls -l` produces it:
// lines of 0-160 printable ASCII characters, a fifth of them with SGR
// colour changes, CRLF line endings.
func typicalText(size int) []byte {
	rng := rand.New(rand.NewSource(42))
	colours := []string{"\x1b[31m", "\x1b[1;32m", "\x1b[38;5;208m", "\x1b[38;2;10;200;30m", "\x1b[7m", "\x1b[44;97m"}
	var b []byte
	for len(b) < size {
		n := rng.Intn(161)
		coloured := rng.Intn(5) == 0
		for i := 0; i < n; i++ {
			if coloured && rng.Intn(20) == 0 {
				b = append(b, colours[rng.Intn(len(colours))]...)
			}
			b = append(b, byte(0x20+rng.Intn(0x5f)))
		}
		if coloured {
			b = append(b, "\x1b[0m"...)
		}
		b = append(b, '\r', '\n')
	}
	return b
}

func asciiText(size int) []byte {
	rng := rand.New(rand.NewSource(7))
	var b []byte
	for len(b) < size {
		for i := rng.Intn(100) + 20; i > 0; i-- {
			b = append(b, byte(0x20+rng.Intn(0x5f)))
		}
		b = append(b, '\r', '\n')
	}
	return b
}

func wideText(size int) []byte {
	rng := rand.New(rand.NewSource(9))
	runes := []rune("世界日本語中文한국어テスト😀🎉é")
	var b []byte
	for len(b) < size {
		for i := rng.Intn(60) + 5; i > 0; i-- {
			b = fmt.Appendf(b, "%c", runes[rng.Intn(len(runes))])
		}
		b = append(b, '\r', '\n')
	}
	return b
}

func benchWrite(b *testing.B, data []byte, cols, rows, sb int) {
	term := New(cols, rows, sb)
	const chunk = 32 << 10
	write := func() {
		for off := 0; off < len(data); off += chunk {
			term.Write(data[off:min(off+chunk, len(data))])
		}
	}
	write() // fill the scrollback so the loop measures the steady state
	write()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		write()
	}
}

func BenchmarkWriteTypical(b *testing.B) { benchWrite(b, typicalText(4<<20), 120, 40, 10000) }
func BenchmarkWriteASCII(b *testing.B)   { benchWrite(b, asciiText(4<<20), 120, 40, 10000) }
func BenchmarkWriteUTF8Wide(b *testing.B) {
	benchWrite(b, wideText(4<<20), 120, 40, 10000)
}

func BenchmarkRepaint200x60(b *testing.B) {
	term := New(200, 60, 1000)
	term.Write(typicalText(200 * 60 * 2))
	term.Write([]byte("\x1b[H"))
	rng := rand.New(rand.NewSource(3))
	for y := 0; y < 60; y++ {
		for x := 0; x < 200; x++ {
			if x%8 == 0 {
				fmt.Fprintf(term, "\x1b[38;5;%d;48;5;%dm", rng.Intn(256), rng.Intn(256))
			}
			term.Write([]byte{byte('a' + rng.Intn(26))})
		}
	}
	buf := term.AppendRepaint(nil, 0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buf = term.AppendRepaint(buf[:0], 0)
	}
	b.ReportMetric(float64(len(buf)), "bytes/repaint")
}

// heapPerTerminal measures the heap held by n idle terminals.
func heapPerTerminal(n, cols, rows int) float64 {
	terms := make([]*Terminal, n)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range terms {
		terms[i] = New(cols, rows, 10000)
		terms[i].Write([]byte("$ "))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(terms)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
}

func BenchmarkIdleTerminalHeap(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		New(120, 40, 10000)
	}
	b.ReportMetric(heapPerTerminal(100, 120, 40), "heap-bytes/terminal")
}

func TestIdleTerminalHeap(t *testing.T) {
	per := heapPerTerminal(50, 120, 40)
	t.Logf("idle 120x40 terminal: %.0f heap bytes", per)
	if per > 96<<10 {
		t.Errorf("idle 120x40 terminal holds %.0f bytes, want well under 128 KiB", per)
	}
}

func TestWriteDoesNotAllocate(t *testing.T) {
	data := typicalText(1 << 20)
	term := New(120, 40, 1000)
	term.Write(data)
	term.Write(data)
	allocs := testing.AllocsPerRun(5, func() { term.Write(data) })
	if allocs != 0 {
		t.Errorf("Write allocates %.1f times per MiB in steady state", allocs)
	}
}
