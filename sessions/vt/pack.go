package vt

import "encoding/binary"

// An idle terminal holds its cells in a compact encoding instead of 12 bytes
// per cell: a 120x40 screen is 57 KiB as cells and a few hundred bytes to
// a few KiB packed, and a server mostly holds idle sessions. Every method
// that reads or writes cells unpacks first, so packing is invisible: the
// cells come back exactly as they were, and what is written afterwards does
// exactly what it would have done.
//
// The encoding is a byte stream over cells, with a current style that
// starts at the zero style:
//
//	0x00-0x7f            a cell holding that ASCII value (0: empty) in the current style
//	packStyle fg bg      the current style becomes {fg, bg} (uvarints); no cell
//	packRune ch          a cell holding ch (uvarint) in the current style
//	packRepeat n         the previous cell n more times (uvarint)
const (
	packStyle  = 0x80
	packRune   = 0x81
	packRepeat = 0x82
)

// packed is what Pack keeps of the screens; nil while their cells are live.
type packed struct {
	pri, alt []byte // each screen's rows, top to bottom, cols cells each
}

// packedLines is what Pack keeps of the scrollback, apart from the screens:
// output that does not scroll (a prompt's clock, a full-screen program's
// redraw) wakes the screens alone, and the scrollback (up to
// Config.Scrollback lines) stays packed until a line scrolls into it or a
// repaint reads it.
type packedLines struct {
	b []byte // oldest first: uvarint length, wrapped byte, cells
	n int
}

// Pack replaces the cells of both screens and the scrollback with their
// compact encoding, until the next call that needs them. It is meant for a
// terminal that has been idle for a while; what is packed already stays
// as it is.
func (t *Terminal) Pack() {
	if t.pk == nil {
		pk := &packed{pri: t.pri.pack()}
		if t.alt != nil {
			pk.alt = t.alt.pack()
		}
		t.pk = pk
	}
	if n := t.sb.len(); n > 0 && t.sbPk == nil {
		var b []byte
		var cur style
		for i := 0; i < n; i++ {
			line := t.sb.line(i)
			b = binary.AppendUvarint(b, uint64(len(line)))
			w := byte(0)
			if t.sb.wrapped(i) {
				w = 1
			}
			b = append(b, w)
			b, cur = appendCells(b, line, cur)
		}
		t.sbPk = &packedLines{b: shrink(b), n: n}
		t.sb.clear()
	}
	t.scratch = nil
	if t.p.state != stOSC {
		t.p.osc = nil // the next OSC starts a new one
	}
}

// Packed reports whether the terminal holds its screens packed.
func (t *Terminal) Packed() bool { return t.pk != nil }

// unpack restores the screens Pack encoded. Every method that touches
// their cells calls it first.
func (t *Terminal) unpack() {
	pk := t.pk
	if pk == nil {
		return
	}
	t.pk = nil
	t.pri.unpack(pk.pri)
	if t.alt != nil {
		t.alt.unpack(pk.alt)
	}
}

// unpackScrollback restores the scrollback Pack encoded. Every method that
// reads or adds scrollback lines calls it first.
func (t *Terminal) unpackScrollback() {
	pk := t.sbPk
	if pk == nil {
		return
	}
	t.sbPk = nil
	b := pk.b
	var cur style
	var line []cell
	for i := 0; i < pk.n; i++ {
		n, k := binary.Uvarint(b)
		b = b[k:]
		wrapped := b[0] == 1
		b = b[1:]
		if uint64(cap(line)) < n {
			line = make([]cell, n)
		}
		line = line[:n]
		b, cur = readCells(b, line, cur)
		t.sb.push(line, wrapped)
	}
}

// pack encodes the screen's rows in screen order and drops its cells.
func (s *screen) pack() []byte {
	var b []byte
	var cur style
	for y := range s.lines {
		row := s.row(y)
		end := len(row)
		for end > 0 && row[end-1] == (cell{}) {
			end--
		}
		b = binary.AppendUvarint(b, uint64(end))
		b, cur = appendCells(b, row[:end], cur)
	}
	s.cells = nil
	return shrink(b)
}

// unpack rebuilds the cells from pack's encoding; the rows come back in
// screen order, with the same hi and wrapped marks (kept in lines).
func (s *screen) unpack(b []byte) {
	s.cells = make([]cell, len(s.lines)*s.cols)
	var cur style
	for y := range s.lines {
		s.lines[y].off = int32(y * s.cols)
		n, k := binary.Uvarint(b)
		b = b[k:]
		b, cur = readCells(b, s.row(y)[:n], cur)
	}
}

// appendCells encodes cells after style cur and returns the style the
// stream ends with.
func appendCells(b []byte, cells []cell, cur style) ([]byte, style) {
	for i := 0; i < len(cells); {
		c := cells[i]
		if c.st != cur {
			cur = c.st
			b = append(b, packStyle)
			b = binary.AppendUvarint(b, uint64(cur.fg))
			b = binary.AppendUvarint(b, uint64(cur.bg))
		}
		if c.ch < 0x80 {
			b = append(b, byte(c.ch))
		} else {
			b = append(b, packRune)
			b = binary.AppendUvarint(b, uint64(c.ch))
		}
		j := i + 1
		for j < len(cells) && cells[j] == c {
			j++
		}
		if n := j - i - 1; n >= 3 {
			b = append(b, packRepeat)
			b = binary.AppendUvarint(b, uint64(n))
			i = j
		} else {
			i++
		}
	}
	return b, cur
}

// readCells fills dst from the encoding and returns the rest of it and the
// style it ends with. The encoding is appendCells' own, never outside
// input, so it is not checked beyond staying inside dst.
func readCells(b []byte, dst []cell, cur style) ([]byte, style) {
	i := 0
	for i < len(dst) {
		op := b[0]
		b = b[1:]
		switch op {
		case packStyle:
			fg, k := binary.Uvarint(b)
			b = b[k:]
			bg, k := binary.Uvarint(b)
			b = b[k:]
			cur = style{fg: uint32(fg), bg: uint32(bg)}
		case packRune:
			ch, k := binary.Uvarint(b)
			b = b[k:]
			dst[i] = cell{ch: uint32(ch), st: cur}
			i++
		case packRepeat:
			n, k := binary.Uvarint(b)
			b = b[k:]
			c := dst[i-1]
			for end := min(i+int(n), len(dst)); i < end; i++ {
				dst[i] = c
			}
		default:
			dst[i] = cell{ch: uint32(op), st: cur}
			i++
		}
	}
	return b, cur
}

// shrink returns b in an allocation of its own size: appending leaves up to
// twice the room, which a packed terminal would keep for nothing.
func shrink(b []byte) []byte {
	if cap(b) == len(b) {
		return b
	}
	return append([]byte(nil), b...)
}
