package sessions

import (
	"bytes"
	"testing"
)

// filterAll runs input through a fresh filter cut at the given points and
// returns the output and the queries with their output positions.
func filterAll(input []byte, cuts []int) ([]byte, []string, []int) {
	var f queryFilter
	var out []byte
	var qs []string
	var at []int
	prev := 0
	for _, c := range append(cuts, len(input)) {
		o, q := f.feed(input[prev:c])
		for _, x := range q {
			qs = append(qs, string(x.data))
			at = append(at, len(out)+x.at)
		}
		out = append(out, o...)
		prev = c
	}
	return out, qs, at
}

func TestQueryFilter(t *testing.T) {
	queries := []string{
		"\x1b[c", "\x1b[0c", "\x1b[>c", "\x1b[>0c", "\x1b[=c", "\x1b[5n", "\x1b[6n", "\x1b[?6n", "\x1b[?996n",
		"\x1b]4;1;?\x07", "\x1b]10;?\x1b\\", "\x1b]11;?\x07", "\x1b]12;?\x07", "\x1b]52;c;?\x07",
		"\x1b[?2004$p", "\x1b[4$p", "\x1b[>q", "\x1b[>0q", "\x1bP$qm\x1b\\", "\x1bP+q544e\x1b\\",
		"\x1b[14t", "\x1b[18t", "\x1b[?u",
	}
	others := []string{
		"plain text ", "\x1b[1;31mred\x1b[0m", "\x1b]0;title\x07", "\x1b]11;rgb:0000/0000/0000\x07",
		"\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", "\x1b[?1049h", "\x1b[2J", "\x1b[>4;1m", "\x1b[>1n",
		"\x1bPq#0;2;0;0;0#1!6~-\x1b\\", "\x1b[8;24;80t", "\x1b(B", "\x1b7", "é€😀", "\x1b[1 q", "\x1b]133;A\x07",
	}
	var in, wantOut []byte
	var wantQ []string
	var wantAt []int
	for i := range 60 {
		o := others[i%len(others)]
		in = append(in, o...)
		wantOut = append(wantOut, o...)
		if i%2 == 0 {
			q := queries[(i/2)%len(queries)]
			in = append(in, q...)
			wantQ = append(wantQ, q)
			wantAt = append(wantAt, len(wantOut))
		}
	}
	for _, q := range queries[30%len(queries):] { // the rest, back to back
		in = append(in, q...)
		wantQ = append(wantQ, q)
		wantAt = append(wantAt, len(wantOut))
	}
	check := func(name string, cuts []int) {
		t.Helper()
		out, qs, at := filterAll(in, cuts)
		if !bytes.Equal(out, wantOut) {
			t.Fatalf("%s: output\n got %q\nwant %q", name, out, wantOut)
		}
		if len(qs) != len(wantQ) {
			t.Fatalf("%s: %d queries, want %d: %q", name, len(qs), len(wantQ), qs)
		}
		for i := range qs {
			if qs[i] != wantQ[i] || at[i] != wantAt[i] {
				t.Fatalf("%s: query %d = %q at %d, want %q at %d", name, i, qs[i], at[i], wantQ[i], wantAt[i])
			}
		}
	}
	check("whole", nil)
	for i := 1; i < len(in); i++ {
		check("cut", []int{i})
	}
	every := make([]int, 0, len(in))
	for i := 1; i < len(in); i++ {
		every = append(every, i)
	}
	check("byte by byte", every)
}

func TestQueryFilterPassesUnknownLongSequences(t *testing.T) {
	long := append([]byte("\x1b]11;"), bytes.Repeat([]byte("x"), 3000)...)
	long = append(long, 0x07)
	out, qs, _ := filterAll(long, []int{10, 600, 1500})
	if !bytes.Equal(out, long) || len(qs) != 0 {
		t.Fatalf("long OSC altered: %d bytes, %d queries", len(out), len(qs))
	}
	// An unterminated sequence is held only until it cannot be a query.
	var f queryFilter
	o, _ := f.feed([]byte("ab\x1b["))
	if string(o) != "ab" {
		t.Fatalf("got %q", o)
	}
	o, _ = f.feed([]byte("1mcd"))
	if string(o) != "\x1b[1mcd" {
		t.Fatalf("got %q", o)
	}
}

func TestQueryFilterNoAllocs(t *testing.T) {
	var f queryFilter
	chunk := bytes.Repeat([]byte("hello \x1b[1;32mworld\x1b[0m\r\n"), 200)
	f.feed(chunk)
	if n := testing.AllocsPerRun(100, func() { f.feed(chunk) }); n != 0 {
		t.Fatalf("%v allocations per chunk", n)
	}
}
