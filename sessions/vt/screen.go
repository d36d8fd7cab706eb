package vt

import "unicode/utf8"

// This file holds the operations on the active screen: printing, cursor
// motion, erasing and scrolling. All of them keep two invariants the repaint
// relies on: the cursor is inside the screen, and a chWide cell is always
// followed by its chCont cell on the same row.

func (t *Terminal) eraseCell() cell { return cell{st: t.pen.erase()} }

func fillCells(row []cell, c cell) {
	if c == (cell{}) {
		clear(row)
		return
	}
	for i := range row {
		row[i] = c
	}
}

// fixWide blanks the halves of wide characters that straddle the edges of
// row[a:b], which is about to be overwritten.
func fixWide(row []cell, a, b int) {
	if a >= b {
		return
	}
	if a > 0 && row[a].ch&chCont != 0 {
		row[a-1].ch = 0
	}
	if b < len(row) && row[b-1].ch&chWide != 0 {
		row[b].ch = 0
	}
}

// printASCII writes the run of printable ASCII starting at b[i] and returns
// the index after it. This is the hot path: scanning and storing happen in
// one pass, and wide-character fix-ups are checked only at the run's edges.
func (t *Terminal) printASCII(b []byte, i int) int {
	if t.cs.g[t.cs.gl] != csASCII || t.modes.insert {
		for ; i < len(b) && b[i]-0x20 < 0x5f; i++ {
			t.print(t.translate(b[i]), 1)
		}
		return i
	}
	st := t.pen
	cols := t.cols
	for i < len(b) && b[i]-0x20 < 0x5f {
		if t.wrapPending {
			t.wrapLine()
		}
		row := t.scr.row(t.y)
		x := t.x
		if row[x].ch&chCont != 0 && x > 0 {
			row[x-1].ch = 0
		}
		dst := row[x:]
		k := 0
		for ; k < len(dst) && i < len(b); k++ {
			c := b[i]
			if c-0x20 >= 0x5f {
				break
			}
			dst[k] = cell{ch: uint32(c), st: st}
			i++
		}
		t.lastChar, t.lastW = rune(b[i-1]), 1
		t.scr.touch(t.y, x+k)
		if k < len(dst) {
			if dst[k].ch&chCont != 0 {
				dst[k].ch = 0 // its first half was just overwritten
			}
			t.x = x + k
			return i
		}
		t.x = cols - 1
		if t.modes.autowrap {
			t.wrapPending = true
			continue
		}
		// Without autowrap the rest of the run lands on the last column.
		j := i
		for j < len(b) && b[j]-0x20 < 0x5f {
			j++
		}
		if j > i {
			t.scr.touch(t.y, cols)
			row[cols-1] = cell{ch: uint32(b[j-1]), st: st}
			t.lastChar = rune(b[j-1])
		}
		return j
	}
	return i
}

// printRune handles a decoded non-ASCII rune.
func (t *Terminal) printRune(r rune) {
	if r < 0xa0 {
		return // DEL and C1 controls are not printed
	}
	w := runeWidth(r)
	if w == 0 {
		t.combine(r)
		return
	}
	t.print(r, w)
}

// print writes one character of width w (1 or 2) at the cursor.
func (t *Terminal) print(r rune, w int) {
	cols := t.cols
	if t.wrapPending {
		t.wrapLine()
	}
	if w == 2 && t.x == cols-1 {
		if !t.modes.autowrap || cols < 2 {
			return // cannot be shown; xterm.js drops it too
		}
		row := t.scr.row(t.y)
		fixWide(row, t.x, t.x+1)
		row[t.x] = t.eraseCell()
		t.scr.touch(t.y, cols)
		t.wrapLine()
	}
	row := t.scr.row(t.y)
	x := t.x
	if t.modes.insert {
		t.insertCells(row, x, w)
	}
	fixWide(row, x, x+w)
	t.scr.touch(t.y, x+w)
	if w == 2 {
		row[x] = cell{ch: uint32(r) | chWide, st: t.pen}
		row[x+1] = cell{ch: chCont, st: t.pen}
	} else {
		row[x] = cell{ch: uint32(r), st: t.pen}
	}
	t.lastChar, t.lastW = r, w
	if x+w < cols {
		t.x = x + w
		return
	}
	t.x = cols - 1
	t.wrapPending = t.modes.autowrap
}

// combine attaches a zero-width rune to the previously printed cell.
func (t *Terminal) combine(r rune) {
	x := t.x
	if !t.wrapPending {
		if x == 0 {
			return
		}
		x--
	}
	row := t.scr.row(t.y)
	if row[x].ch&chCont != 0 && x > 0 {
		x--
	}
	t.scr.touch(t.y, x+1)
	c := &row[x]
	b := t.scratch[:0]
	b = t.appendCellText(b, *c)
	if len(b)+4 > maxCluster {
		return
	}
	b = utf8.AppendRune(b, r)
	t.scratch = b
	id, ok := t.clusterIdx[string(b)]
	if !ok {
		if len(t.clusters) >= maxClusters {
			return // table full: drop the mark rather than grow without bound
		}
		if t.clusterIdx == nil {
			t.clusterIdx = make(map[string]uint32)
		}
		id = uint32(len(t.clusters))
		s := string(b)
		t.clusters = append(t.clusters, s)
		t.clusterIdx[s] = id
	}
	c.ch = c.ch&chWide | chCluster | id
}

// wrapLine performs the deferred autowrap and marks the row as soft
// wrapped, unless the cursor cannot leave it (the last row, below the
// scroll region) and the text goes on over the same row.
func (t *Terminal) wrapLine() {
	t.wrapPending = false
	t.x = 0
	if t.y == t.bot || t.y < t.rows-1 {
		t.scr.lines[t.y].wrapped = true
	}
	t.index()
}

// index moves down one line, scrolling the region at its bottom (IND, LF).
func (t *Terminal) index() {
	t.wrapPending = false
	switch {
	case t.y == t.bot:
		t.scrollUp(t.top, t.bot, 1, true)
	case t.y < t.rows-1:
		t.y++
	}
}

// reverseIndex moves up one line, scrolling down at the region top (RI).
func (t *Terminal) reverseIndex() {
	t.wrapPending = false
	switch {
	case t.y == t.top:
		t.scrollDown(t.top, t.bot, 1)
	case t.y > 0:
		t.y--
	}
}

// scrollUp moves rows top..bot up by n, blanking the bottom n. Lines leaving
// the top of the primary screen go to scrollback when save is set (xterm
// saves only lines scrolled by line feeds out of a region starting at row 0).
func (t *Terminal) scrollUp(top, bot, n int, save bool) {
	h := bot - top + 1
	if n <= 0 || h <= 0 {
		return
	}
	n = min(n, h)
	s := t.scr
	if save && top == 0 && s == t.pri && t.sb.max > 0 {
		t.unpackScrollback()
		for i := 0; i < n; i++ {
			t.sb.push(s.used(i), s.lines[i].wrapped)
		}
	}
	rotate(s.lines[top:bot+1], n)
	t.blankRows(bot-n+1, bot+1)
}

// scrollDown moves rows top..bot down by n, blanking the top n.
func (t *Terminal) scrollDown(top, bot, n int) {
	h := bot - top + 1
	if n <= 0 || h <= 0 {
		return
	}
	n = min(n, h)
	s := t.scr
	rotate(s.lines[top:bot+1], h-n)
	t.blankRows(top, top+n)
	if bot == t.rows-1 {
		s.lines[bot].wrapped = false // the last row continues nowhere
	}
}

// blankRows erases rows [a, b) of the active screen.
func (t *Terminal) blankRows(a, b int) {
	s := t.scr
	e := t.eraseCell()
	hi := int32(0)
	if e != (cell{}) {
		hi = int32(s.cols)
	}
	for i := a; i < b; i++ {
		fillCells(s.row(i), e)
		s.lines[i].hi = hi
		s.lines[i].wrapped = false
	}
}

// rotate rotates s left by n in place without allocating.
func rotate(s []rowRef, n int) {
	if n == 1 {
		first := s[0]
		copy(s, s[1:])
		s[len(s)-1] = first
		return
	}
	if n <= 0 || n >= len(s) {
		return
	}
	reverse(s[:n])
	reverse(s[n:])
	reverse(s)
}

func reverse(s []rowRef) {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
}

// moveTo positions the cursor; y is relative to the scroll region in origin
// mode, and the cursor is confined to it there.
func (t *Terminal) moveTo(x, y int) {
	minY, maxY := 0, t.rows-1
	if t.modes.origin {
		y += t.top
		minY, maxY = t.top, t.bot
	}
	t.x = min(max(x, 0), t.cols-1)
	t.y = min(max(y, minY), maxY)
	t.wrapPending = false
}

// moveRel moves vertically without leaving the scroll region if the cursor
// started inside it (CUU/CUD semantics).
func (t *Terminal) moveUp(n int) {
	lim := 0
	if t.y >= t.top {
		lim = t.top
	}
	t.y = max(t.y-n, lim)
	t.wrapPending = false
}

func (t *Terminal) moveDown(n int) {
	lim := t.rows - 1
	if t.y <= t.bot {
		lim = t.bot
	}
	t.y = min(t.y+n, lim)
	t.wrapPending = false
}

func (t *Terminal) moveCol(x int) {
	t.x = min(max(x, 0), t.cols-1)
	t.wrapPending = false
}

func (t *Terminal) backspace() {
	if t.wrapPending {
		t.wrapPending = false
		return
	}
	if t.x > 0 {
		t.x--
	}
}

func (t *Terminal) tab(n int) {
	x := t.x
	for ; n > 0 && x < t.cols-1; n-- {
		x++
		for x < t.cols-1 && !t.tabs[x] {
			x++
		}
	}
	t.x = x
	t.wrapPending = false
}

func (t *Terminal) backTab(n int) {
	x := t.x
	for ; n > 0 && x > 0; n-- {
		x--
		for x > 0 && !t.tabs[x] {
			x--
		}
	}
	t.x = x
	t.wrapPending = false
}

// eraseInRow blanks row y between columns a and b (exclusive).
func (t *Terminal) eraseInRow(y, a, b int) {
	row := t.scr.row(y)
	a, b = max(a, 0), min(b, t.cols)
	if a >= b {
		return
	}
	fixWide(row, a, b)
	e := t.eraseCell()
	if e != (cell{}) {
		t.scr.touch(y, b)
	}
	fillCells(row[a:b], e)
	if a == 0 && b == t.cols {
		// A row erased whole is no longer part of a logical line, as in
		// tmux: neither its own soft wrap nor the one into it remains.
		t.unwrap(y)
	}
}

// unwrap clears the soft wraps out of row y and into it.
func (t *Terminal) unwrap(y int) {
	t.scr.lines[y].wrapped = false
	if y > 0 {
		t.scr.lines[y-1].wrapped = false
	}
}

func (t *Terminal) eraseLine(mode int) {
	switch mode {
	case 0:
		t.eraseInRow(t.y, t.x, t.cols)
	case 1:
		t.eraseInRow(t.y, 0, t.x+1)
	case 2:
		t.eraseInRow(t.y, 0, t.cols)
	default:
		return
	}
	t.wrapPending = false
}

func (t *Terminal) eraseDisplay(mode int) {
	switch mode {
	case 0:
		t.eraseInRow(t.y, t.x, t.cols)
		for y := t.y + 1; y < t.rows; y++ {
			t.eraseInRow(y, 0, t.cols)
		}
	case 1:
		for y := 0; y < t.y; y++ {
			t.eraseInRow(y, 0, t.cols)
		}
		t.eraseInRow(t.y, 0, t.x+1)
	case 2:
		for y := 0; y < t.rows; y++ {
			t.eraseInRow(y, 0, t.cols)
		}
	case 3:
		t.sb.clear()
		t.sbPk = nil
		return
	default:
		return
	}
	t.wrapPending = false
}

// insertCells shifts row[x:] right by n, blanking the gap (ICH, IRM).
func (t *Terminal) insertCells(row []cell, x, n int) {
	cols := len(row)
	n = min(n, cols-x)
	if n <= 0 {
		return
	}
	if row[x].ch&chCont != 0 && x > 0 {
		row[x-1].ch = 0
		row[x].ch = 0
	}
	t.scr.touch(t.y, cols) // rare: be conservative
	copy(row[x+n:], row[x:cols-n])
	fillCells(row[x:x+n], t.eraseCell())
	if row[cols-1].ch&chWide != 0 {
		row[cols-1].ch = 0
	}
}

// deleteCells removes n cells at x, shifting the rest left (DCH).
func (t *Terminal) deleteCells(n int) {
	row := t.scr.row(t.y)
	x, cols := t.x, t.cols
	n = min(n, cols-x)
	if n <= 0 {
		return
	}
	if row[x].ch&chCont != 0 && x > 0 {
		row[x-1].ch = 0
	}
	if x+n < cols && row[x+n].ch&chCont != 0 {
		row[x+n].ch = 0
	}
	t.scr.touch(t.y, cols) // rare: be conservative
	copy(row[x:], row[x+n:])
	fillCells(row[cols-n:], t.eraseCell())
	t.wrapPending = false
}

func (t *Terminal) insertLines(n int) {
	if t.y < t.top || t.y > t.bot {
		return
	}
	t.scrollDown(t.y, t.bot, n)
	t.unwrap(t.y)
	t.x, t.wrapPending = 0, false
}

func (t *Terminal) deleteLines(n int) {
	if t.y < t.top || t.y > t.bot {
		return
	}
	t.scrollUp(t.y, t.bot, n, false)
	if t.y > 0 {
		t.scr.lines[t.y-1].wrapped = false
	}
	t.x, t.wrapPending = 0, false
}

// repeat implements REP: the last printed character again n times.
func (t *Terminal) repeat(n int) {
	if t.lastChar == 0 {
		return
	}
	n = min(n, t.cols*t.rows)
	r, w := t.lastChar, t.lastW
	for ; n > 0; n-- {
		t.print(r, w)
	}
}

// alignmentTest fills the screen with 'E' (DECALN).
func (t *Terminal) alignmentTest() {
	fillCells(t.scr.cells, cell{ch: 'E'})
	for i := range t.scr.lines {
		t.scr.lines[i].hi = int32(t.cols)
		t.scr.lines[i].wrapped = false
	}
	t.top, t.bot = 0, t.rows-1
	t.modes.origin = false
	t.x, t.y, t.wrapPending = 0, 0, false
}

func (t *Terminal) setMargins(top, bot int) {
	if top < 1 {
		top = 1
	}
	if bot < 1 || bot > t.rows {
		bot = t.rows
	}
	if top >= bot {
		return // xterm ignores regions of fewer than two lines
	}
	t.top, t.bot = top-1, bot-1
	t.moveTo(0, 0)
}
