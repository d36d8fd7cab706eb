package sessions

import "bytes"

// Terminal queries (device attributes, cursor position reports, colour
// queries, mode and version requests, ...) make the terminal write a reply to
// its input. With several clients on one shell, every one of them would reply
// and the shell would read junk, so the pump takes queries out of the output
// stream and hands each one to exactly one client. A query never enters the
// ring, the emulator or the offsets: replays and repaints never contain one.

// query is one terminal query found in a chunk of output.
type query struct {
	at   int    // index in the filtered output where the query sat
	data []byte // the query's bytes; aliases the input, valid until the next feed
}

// queryFilter is a streaming filter: a sequence split across two reads is
// held back (bounded) until the rest arrives, so its state survives chunk
// boundaries. Not safe for concurrent use; the pump owns it.
type queryFilter struct {
	pend []byte // incomplete escape sequence from the end of the previous chunk
	work []byte // pend joined with the next chunk
	out  []byte // filtered output, when the chunk had to be rewritten
	qs   []query
	// osc: the last output may hold an OSC (ESC ]); without one the
	// command marks need no look (see marks.go).
	osc bool
}

// Bounds on how long a sequence may be while we wait for its end; past them
// it is not a query we know and it passes through untouched.
const (
	maxCSILen    = 64
	maxStringLen = 1024 // OSC / DCS queries are short
)

type seqKind int

const (
	seqOther seqKind = iota
	seqQuery
	seqIncomplete
)

// feed filters p. The output aliases p or the filter's buffers and is valid
// until the next call, like the queries. Output is passed through unchanged,
// without copying, unless a query was removed or bytes were held back from
// the previous chunk.
func (f *queryFilter) feed(p []byte) ([]byte, []query) {
	f.qs = f.qs[:0]
	f.osc = false
	if len(f.pend) > 0 {
		f.work = append(append(f.work[:0], f.pend...), p...)
		f.pend = f.pend[:0]
		p = f.work
	}
	rewrite := false
	emitted := 0 // p[:emitted] is already in f.out when rewriting
	i := 0
	for i < len(p) {
		j := bytes.IndexByte(p[i:], 0x1b)
		if j < 0 {
			break
		}
		k := i + j
		f.osc = f.osc || k+1 < len(p) && p[k+1] == ']'
		n, kind := parseSeq(p[k:])
		switch kind {
		case seqIncomplete:
			f.pend = append(f.pend[:0], p[k:]...)
			if !rewrite {
				return p[:k], f.qs
			}
			f.out = append(f.out, p[emitted:k]...)
			return f.out, f.qs
		case seqQuery:
			if !rewrite {
				f.out = append(f.out[:0], p[:k]...)
				rewrite = true
			} else {
				f.out = append(f.out, p[emitted:k]...)
			}
			f.qs = append(f.qs, query{at: len(f.out), data: p[k : k+n]})
			emitted = k + n
		}
		i = k + n
	}
	if !rewrite {
		return p, f.qs
	}
	f.out = append(f.out, p[emitted:]...)
	return f.out, f.qs
}

// held reports whether bytes are held back waiting for the rest of a
// sequence.
func (f *queryFilter) held() bool { return len(f.pend) > 0 }

// flush gives up waiting: the held bytes are output after all. Valid until
// the next call.
func (f *queryFilter) flush() []byte {
	f.osc = true
	f.out = append(f.out[:0], f.pend...)
	f.pend = f.pend[:0]
	return f.out
}

// parseSeq classifies the escape sequence at the start of b (b[0] == ESC)
// and returns how many bytes to skip: the whole sequence for a query, at
// least one byte otherwise.
func parseSeq(b []byte) (int, seqKind) {
	if len(b) < 2 {
		return 0, seqIncomplete
	}
	switch b[1] {
	case '[':
		return parseCSI(b)
	case ']':
		return parseOSC(b)
	case 'P':
		return parseDCS(b)
	}
	return 1, seqOther
}

func parseCSI(b []byte) (int, seqKind) {
	i := 2
	var priv byte
	if i < len(b) && b[i] >= '<' && b[i] <= '?' {
		priv = b[i]
		i++
	}
	ps := i
	for i < len(b) && b[i] >= 0x30 && b[i] <= 0x3f {
		i++
	}
	pe := i
	for i < len(b) && b[i] >= 0x20 && b[i] <= 0x2f {
		i++
	}
	if i == len(b) {
		if i > maxCSILen {
			return 1, seqOther
		}
		return 0, seqIncomplete
	}
	final := b[i]
	if final < 0x40 || final > 0x7e {
		return 1, seqOther // malformed or interrupted by a control: not ours
	}
	n := i + 1
	params, inter := b[ps:pe], b[pe:i]
	if csiIsQuery(priv, params, inter, final) {
		return n, seqQuery
	}
	return n, seqOther
}

func csiIsQuery(priv byte, params, inter []byte, final byte) bool {
	switch {
	case final == 'c' && len(inter) == 0 && (priv == 0 || priv == '>' || priv == '='):
		return allDigits(params) // DA1, DA2, DA3
	case final == 'n' && len(inter) == 0 && (priv == 0 || priv == '?'):
		return allDigitsSemi(params) // DSR, CPR, DECXCPR and the private reports
	case final == 'p' && len(inter) == 1 && inter[0] == '$' && (priv == 0 || priv == '?'):
		return allDigits(params) // DECRQM
	case final == 'q' && len(inter) == 0 && priv == '>':
		return allDigits(params) // XTVERSION
	case final == 'u' && len(inter) == 0 && priv == '?':
		return len(params) == 0 // kitty keyboard flags query
	case final == 't' && len(inter) == 0 && priv == 0:
		// XTWINOPS reports (sizes, state, title); the others set things.
		first, _, _ := bytes.Cut(params, []byte{';'})
		switch string(first) {
		case "11", "13", "14", "15", "16", "18", "19", "20", "21":
			return true
		}
	}
	return false
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func allDigitsSemi(b []byte) bool {
	for _, c := range b {
		if (c < '0' || c > '9') && c != ';' {
			return false
		}
	}
	return true
}

// parseOSC recognises colour and clipboard queries: OSC 4/5/10-19/52 with a
// "?" in place of a value. Other OSCs (title, cwd, hyperlinks, prompt marks)
// are let through as soon as their number is known, so they are never held.
func parseOSC(b []byte) (int, seqKind) {
	i := 2
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	if i == len(b) {
		if i > 8 {
			return 1, seqOther
		}
		return 0, seqIncomplete
	}
	if b[i] != ';' || !oscMayQuery(b[2:i]) {
		return 1, seqOther
	}
	body := i + 1
	end, termLen, kind := findST(b, body, true)
	if kind != seqQuery {
		return 1, kind
	}
	for f := range bytes.SplitSeq(b[body:end], []byte{';'}) {
		if len(f) == 1 && f[0] == '?' {
			return end + termLen, seqQuery
		}
	}
	return 1, seqOther
}

func oscMayQuery(num []byte) bool {
	switch string(num) {
	case "4", "5", "10", "11", "12", "13", "14", "15", "16", "17", "18", "19", "52":
		return true
	}
	return false
}

// parseDCS recognises DECRQSS (DCS $ q) and XTGETTCAP (DCS + q).
func parseDCS(b []byte) (int, seqKind) {
	if len(b) < 4 {
		if len(b) == 3 && b[2] != '$' && b[2] != '+' {
			return 1, seqOther
		}
		return 0, seqIncomplete
	}
	if (b[2] != '$' && b[2] != '+') || b[3] != 'q' {
		return 1, seqOther
	}
	end, termLen, kind := findST(b, 4, false)
	if kind != seqQuery {
		return 1, kind
	}
	return end + termLen, seqQuery
}

// findST finds the string terminator (ESC \, or BEL when allowed) from
// index from. It reports seqQuery when found (end is where it starts),
// seqIncomplete when b ends first, seqOther when the string is too long or is
// cut short by another escape sequence.
func findST(b []byte, from int, bel bool) (end, termLen int, kind seqKind) {
	for j := from; j < len(b); j++ {
		if j > maxStringLen {
			return 0, 0, seqOther
		}
		switch b[j] {
		case 0x07:
			if bel {
				return j, 1, seqQuery
			}
		case 0x1b:
			if j+1 == len(b) {
				return 0, 0, seqIncomplete
			}
			if b[j+1] == '\\' {
				return j, 2, seqQuery
			}
			return 0, 0, seqOther
		}
	}
	if len(b) > maxStringLen {
		return 0, 0, seqOther
	}
	return 0, 0, seqIncomplete
}
