package vt

import (
	"strconv"
	"unicode/utf8"
)

// repaintPrefix puts any xterm-compatible terminal into a known state without
// RIS (which would also reset client-side settings such as the palette,
// font or keyboard options): cursor hidden while drawing, autowrap on (soft
// wrapped lines are written through the right margin), primary screen,
// default pen, no margins, origin mode and insert mode off, ASCII in G0/G1
// with G0 shifted in, screen cleared. The client's own scrollback is left
// alone (no ED 3); callers that want it gone can prepend "\x1b[3J".
const repaintPrefix = "\x1b[?25l\x1b[?7h\x1b[?1049l\x1b[0m\x1b[r\x1b[4;20l\x1b[?6l\x1b(B\x1b)B\x0f" + repaintClear

const repaintClear = "\x1b[H\x1b[2J"

// AppendRepaint appends to dst a sequence that reproduces the screen on a
// terminal of the same size that has just been reset. If scrollback > 0, up
// to that many scrollback lines (primary screen only) are emitted first so
// they scroll into the client's own scrollback.
//
// Every row is positioned with CUP; a row's blank tail is erased with EL in
// its background colour; the bottom-right cell is written last in its row
// and followed by CUP, so nothing scrolls. Afterwards the alternate screen
// (if active), saved cursors, tab stops, modes, margins, title, cursor
// style, pen, charsets and finally the cursor (including a pending wrap) are
// restored.
func (t *Terminal) AppendRepaint(dst []byte, scrollback int) []byte {
	t.unpack()
	if scrollback > 0 {
		t.unpackScrollback()
	}
	dst = append(dst, repaintPrefix...)
	var cur style
	if n := min(scrollback, t.sb.len()); n > 0 {
		dst, cur = t.appendScrollback(dst, n, cur)
	}
	dst, cur = t.appendScreen(dst, t.pri, cur)

	onAlt := t.scr == t.alt
	if s := t.pri.saved; s != (savedCursor{}) || onAlt && t.altMode == 1049 {
		dst, cur = appendSaved(dst, s, cur)
		if !onAlt || t.altMode != 1049 {
			dst = append(dst, "\x1b7"...)
		}
		if onAlt {
			dst = appendMode(dst, '?', t.altMode, 'h')
		}
		dst = appendUnsave(dst, s)
	} else if onAlt {
		dst = appendMode(dst, '?', t.altMode, 'h')
	}
	if onAlt {
		dst, cur = t.appendScreen(dst, t.alt, cur)
		if s := t.alt.saved; s != (savedCursor{}) {
			dst, cur = appendSaved(dst, s, cur)
			dst = append(dst, "\x1b7"...)
			dst = appendUnsave(dst, s)
		}
	}

	dst = t.appendTabs(dst)
	dst = t.appendModes(dst)
	dst = t.appendTitleStyle(dst)
	if t.top != 0 || t.bot != t.rows-1 {
		dst = append(dst, "\x1b["...)
		dst = strconv.AppendInt(dst, int64(t.top+1), 10)
		dst = append(dst, ';')
		dst = strconv.AppendInt(dst, int64(t.bot+1), 10)
		dst = append(dst, 'r')
	}
	if t.modes.origin {
		dst = append(dst, "\x1b[?6h"...)
	}

	// The cursor. CUP is relative to the top margin in origin mode.
	y := t.y
	if t.modes.origin {
		y -= t.top
	}
	if t.wrapPending {
		// Rewriting the last cell leaves the client with the same pending
		// wrap: the next printable character wraps, a CR does not.
		row := t.scr.row(t.y)
		x := t.cols - 1
		if row[x].ch&chCont != 0 && x > 0 {
			x--
		}
		dst = appendCUP(dst, y, x)
		c := row[x]
		if c.st != cur {
			dst = appendSGR(dst, c.st)
			cur = c.st
		}
		dst = t.appendCellText(dst, c)
	} else {
		dst = appendCUP(dst, y, t.x)
	}
	if t.pen != cur {
		dst = appendSGR(dst, t.pen)
	}
	dst = appendCharsets(dst, t.cs)
	if t.modes.insert {
		dst = append(dst, "\x1b[4h"...)
	}
	if t.modes.newline {
		dst = append(dst, "\x1b[20h"...)
	}
	if !t.modes.hidden {
		dst = append(dst, "\x1b[?25h"...)
	}
	return dst
}

// appendScrollback writes the newest n scrollback lines as a stream from
// the top of the cleared screen, then feeds enough line feeds to push them
// all off the top: the client's scrollback receives exactly those lines
// and the screen is blank again. A soft-wrapped line is written up to the
// right margin and continued by the next one, so the client wraps it itself
// and keeps it as one logical line, as the first client did.
func (t *Terminal) appendScrollback(dst []byte, n int, cur style) ([]byte, style) {
	total := t.sb.len()
	for i := total - n; i < total; i++ {
		line := t.sb.line(i)
		if len(line) > t.cols {
			line = line[:t.cols]
		}
		w := len(line)
		if w == 0 && i > total-n && t.sb.wrapped(i-1) {
			// The wrap happens when the next character comes.
			dst = append(dst, ' ')
			w = 1
		}
		dst, cur = t.appendCells(dst, line, cur)
		if cur != (style{}) {
			// The pen's background would fill the lines scrolled in.
			dst = append(dst, "\x1b[0m"...)
			cur = style{}
		}
		if !t.sb.wrapped(i) {
			dst = append(dst, '\r', '\n')
			continue
		}
		next := t.pri.row(0)
		if i+1 < total {
			next = t.sb.line(i + 1)
		}
		end := t.cols
		if wrapsWide(line, next, t.cols) {
			end--
		}
		for ; w < end; w++ {
			dst = append(dst, ' ')
		}
		if i == total-1 {
			// Its continuation is the screen's first row, painted later
			// with the cursor positioned: wrap into it now.
			dst, cur = t.appendCells(dst, next[:min(2, len(next))], cur)
			if cur != (style{}) {
				dst = append(dst, "\x1b[0m"...)
				cur = style{}
			}
		}
	}
	onScreen := min(n, t.rows-1)
	if onScreen < t.rows-1 {
		dst = appendCUP(dst, t.rows-1, 0)
	}
	for ; onScreen > 0; onScreen-- {
		dst = append(dst, '\n')
	}
	return append(dst, "\x1b[H"...), cur
}

// appendScreen paints every row of s that is not blank in the default style.
// A soft-wrapped row is written whole and its continuation follows without
// positioning, so the client wraps there itself (as tmux redraws a pane).
func (t *Terminal) appendScreen(dst []byte, s *screen, cur style) ([]byte, style) {
	joined := false // the previous row wrapped: the cursor waits at its end
	for y := range s.lines {
		row := s.row(y)
		if s.lines[y].wrapped && y+1 < len(s.lines) {
			if !joined {
				dst = appendCUP(dst, y, 0)
			}
			if wrapsWide(row, s.row(y+1), t.cols) {
				row = row[:len(row)-1]
			}
			dst, cur = t.appendCells(dst, row, cur)
			joined = true
			continue
		}
		k, tail := tailStart(row)
		if joined {
			// At least one cell, to make the wrap happen.
			k = max(k, 1)
		} else {
			if k == 0 && tail == (style{}) {
				continue
			}
			dst = appendCUP(dst, y, 0)
		}
		joined = false
		dst, cur = t.appendCells(dst, row[:k], cur)
		if k < len(row) {
			if tail != cur {
				dst = appendSGR(dst, tail)
				cur = tail
			}
			dst = append(dst, "\x1b[K"...)
		}
	}
	return dst, cur
}

// wrapsWide reports whether a soft-wrapped row ends where a wide character
// did not fit: its last cell is the blank that left behind and next starts
// with the character. The repaint then stops a cell short and lets the
// character wrap by itself, so the client holds no written blank there
// (which tmux would keep in a copied line).
func wrapsWide(row, next []cell, cols int) bool {
	if cols < 2 || len(next) == 0 || next[0].ch&chWide == 0 {
		return false
	}
	var last cell
	if len(row) >= cols {
		last = row[cols-1]
	}
	return last.ch == 0 && last.st == next[0].st.erase()
}

// tailStart finds where a row's trailing run of erased-looking cells begins:
// blank cells whose style is exactly what EL produces (a background colour
// and nothing else), all in the same style.
func tailStart(row []cell) (int, style) {
	k := len(row)
	if k == 0 {
		return 0, style{}
	}
	last := row[k-1]
	if !last.blank() || last.st.fg != 0 || last.st.bg&^colorBits != 0 {
		return k, style{}
	}
	for k > 0 && row[k-1].blank() && row[k-1].st == last.st {
		k--
	}
	return k, last.st
}

// appendCells writes cells left to right from the cursor, switching the pen
// only when the style changes.
func (t *Terminal) appendCells(dst []byte, cells []cell, cur style) ([]byte, style) {
	for x, c := range cells {
		if c.ch&chCont != 0 {
			if x > 0 && cells[x-1].ch&chWide != 0 {
				continue
			}
			c.ch = ' ' // orphaned half: keep the columns aligned
		} else if c.ch&chWide != 0 && x == len(cells)-1 {
			c.ch = ' ' // cut by a narrower screen
		}
		if c.st != cur {
			dst = appendSGR(dst, c.st)
			cur = c.st
		}
		switch ch := c.ch; {
		case ch == 0:
			dst = append(dst, ' ')
		case ch < 0x80:
			dst = append(dst, byte(ch))
		case ch&chCluster != 0:
			dst = t.appendCellText(dst, c)
		default:
			dst = utf8.AppendRune(dst, rune(ch&chRuneMask))
		}
	}
	return dst, cur
}

// appendSaved moves the client into the DECSC state s, ready for ESC 7.
func appendSaved(dst []byte, s savedCursor, cur style) ([]byte, style) {
	if s.origin {
		dst = append(dst, "\x1b[?6h"...) // margins are still the full screen
	}
	dst = appendCUP(dst, s.y, s.x)
	if s.pen != cur {
		dst = appendSGR(dst, s.pen)
		cur = s.pen
	}
	return appendCharsets(dst, s.cs), cur
}

// appendUnsave undoes the non-default parts of appendSaved after saving.
func appendUnsave(dst []byte, s savedCursor) []byte {
	if s.origin {
		dst = append(dst, "\x1b[?6l"...)
	}
	if s.cs != (charsets{}) {
		dst = append(dst, "\x1b(B\x1b)B\x0f"...)
	}
	return dst
}

func appendCharsets(dst []byte, cs charsets) []byte {
	if cs.g[0] == csGraphics {
		dst = append(dst, "\x1b(0"...)
	}
	if cs.g[1] == csGraphics {
		dst = append(dst, "\x1b)0"...)
	}
	if cs.gl == 1 {
		dst = append(dst, 0x0e)
	}
	return dst
}

func (t *Terminal) appendTabs(dst []byte) []byte {
	def := true
	for i, on := range t.tabs {
		if on != (i%8 == 0 && i > 0) {
			def = false
			break
		}
	}
	if def {
		return dst
	}
	dst = append(dst, "\x1b[3g"...)
	for i, on := range t.tabs {
		if on {
			dst = appendCUP(dst, 0, i)
			dst = append(dst, "\x1bH"...)
		}
	}
	return dst
}

// appendModes restores DEC private modes: everything that is off is reset
// first, then everything that is on is set, because in xterm resetting any
// mouse mode turns mouse reporting off altogether.
//
// Each mode gets a sequence of its own. A list in one sequence is shorter,
// but tmux drops a whole control sequence whose parameters pass 63 bytes
// (and xterm.js and tmux ignore modes they do not know one by one anyway),
// and tools that watch the output for one mode (bracketed paste,
// "\x1b[?2004h", is how scripts tell that a shell waits for input) find it
// in a repaint as in the live stream. The keypad is set with DECKPAM/DECKPNM
// (ESC = / ESC >), which xterm, tmux and xterm.js all know; tmux ignores
// DECNKM (CSI ?66h).
func (t *Terminal) appendModes(dst []byte) []byte {
	m := t.modes
	var on, off []int
	var buf [48]int
	off = buf[:0:32]
	on = buf[32:32:48]
	for _, pm := range passModeList() {
		bit, _ := passMode(pm)
		switch {
		case pm == 66:
		case m.flags&bit != 0:
			on = append(on, pm)
		case pm != 12: // cursor blink is a user preference unless an app set it
			off = append(off, pm)
		}
	}
	if m.autowrap {
		on = append(on, 7)
	} else {
		off = append(off, 7)
	}
	off = append(off, 9, 1000, 1001, 1002, 1003, 1005, 1006, 1015, 1016)
	if m.mouse != 0 {
		on = append(on, m.mouse)
	}
	if m.enc != 0 {
		on = append(on, m.enc)
	}
	for _, pm := range off {
		dst = appendMode(dst, '?', pm, 'l')
	}
	for _, pm := range on {
		dst = appendMode(dst, '?', pm, 'h')
	}
	if bit, _ := passMode(66); m.flags&bit != 0 {
		return append(dst, "\x1b="...)
	}
	return append(dst, "\x1b>"...)
}

func appendMode(dst []byte, priv byte, m int, final byte) []byte {
	dst = append(dst, "\x1b["...)
	if priv != 0 {
		dst = append(dst, priv)
	}
	dst = strconv.AppendInt(dst, int64(m), 10)
	return append(dst, final)
}

// appendCUP positions the cursor at 0-based (x, y).
func appendCUP(dst []byte, y, x int) []byte {
	dst = append(dst, "\x1b["...)
	if y > 0 || x > 0 {
		dst = strconv.AppendInt(dst, int64(y+1), 10)
	}
	if x > 0 {
		dst = append(dst, ';')
		dst = strconv.AppendInt(dst, int64(x+1), 10)
	}
	return append(dst, 'H')
}

// AppendView appends a repaint for a client whose window (cols x rows) is
// not the terminal's size, which therefore cannot follow the program's
// output itself (a line feed on the last of 30 rows scrolls, on row 30 of
// 45 it does not). It shows the part of the active screen that fits,
// from the top-left corner, panned right and down just enough to keep the
// cursor in sight, as tmux shows a window larger than its client; the rest
// of a larger window stays blank. Modes that change what the client sends
// (keys, mouse, paste), the title and the cursor are restored. No
// scrollback: the client's history would keep a cut-down screen.
func (t *Terminal) AppendView(dst []byte, cols, rows int) []byte {
	t.unpack()
	cols, rows = clampDim(cols), clampDim(rows)
	// Every row is painted rather than the screen cleared first: views
	// follow each other fast, and tmux (scroll-on-clear) would move each
	// cleared screen into its history.
	dst = append(dst, repaintPrefix[:len(repaintPrefix)-len(repaintClear)]...)
	if t.scr == t.alt {
		dst = appendMode(dst, '?', t.altMode, 'h')
	}
	ox, oy := max(t.x-cols+1, 0), max(t.y-rows+1, 0)
	vc, vr := min(cols, t.cols-ox), min(rows, t.rows-oy)
	var cur style
	for y := 0; y < rows; y++ {
		dst = appendCUP(dst, y, 0)
		var row []cell
		if y < vr {
			row = t.scr.row(oy + y)[ox : ox+vc]
		}
		k, tail := tailStart(row)
		dst, cur = t.appendCells(dst, row[:k], cur)
		if k == vc && vc == cols {
			continue // the row is full: nothing to erase
		}
		if tail != cur {
			dst = appendSGR(dst, tail)
			cur = tail
		}
		dst = append(dst, "\x1b[K"...)
	}
	if cur != (style{}) {
		dst = append(dst, "\x1b[0m"...)
	}
	dst = t.appendModes(dst)
	dst = t.appendTitleStyle(dst)
	dst = appendCUP(dst, t.y-oy, t.x-ox)
	if !t.modes.hidden {
		dst = append(dst, "\x1b[?25h"...)
	}
	return dst
}

// appendTitleStyle restores the title and the cursor style.
func (t *Terminal) appendTitleStyle(dst []byte) []byte {
	if t.title != "" {
		dst = append(dst, "\x1b]2;"...)
		dst = append(dst, t.title...)
		dst = append(dst, '\a')
	}
	dst = append(dst, "\x1b["...)
	dst = strconv.AppendInt(dst, int64(t.cursorStyle), 10)
	return append(dst, " q"...)
}
