package vt

import "unicode/utf8"

const (
	maxDim      = 4096 // largest accepted width or height
	maxClusters = 4096 // distinct grapheme clusters remembered per terminal
	maxCluster  = 32   // bytes kept per grapheme cluster
)

// Terminal is a headless terminal screen. Not safe for concurrent use; the
// caller serialises.
type Terminal struct {
	cols, rows int

	pri, alt *screen // alt is allocated on first use
	scr      *screen // the active one
	altMode  int     // 47, 1047 or 1049: how the alternate screen was entered

	// The cursor is shared by both screens, as in xterm.
	x, y        int
	wrapPending bool // a character was written to the last column (DECAWM)
	pen         style
	top, bot    int // scroll region, inclusive
	cs          charsets

	modes       modes
	cursorStyle int // DECSCUSR parameter
	title       string
	tabs        []bool

	lastChar rune // for REP; 0 when the previous action was not a print
	lastW    int

	clusters   []string // rune + combining marks, indexed by the cell value
	clusterIdx map[string]uint32
	scratch    []byte

	sb   scrollback
	pk   *packed      // non-nil: the screens' cells are packed (pack.go)
	sbPk *packedLines // non-nil: the scrollback is packed, and sb empty

	p parser
}

// screen is one of the two buffers. All cells live in one array; lines maps
// screen rows to their offset in it, so scrolling rotates a small slice of
// integers instead of moving cells (and without pointer write barriers).
type screen struct {
	cells []cell
	lines []rowRef
	cols  int
	saved savedCursor // DECSC state; xterm keeps one per screen
}

// rowRef locates a row. hi bounds the columns that may differ from a
// default blank, so pushing a line to scrollback need not scan the blank
// tail; it may overestimate but never underestimate. wrapped says the row
// was left by an autowrap: it and the next row are one logical line (a
// soft wrap), which a client's selection and reflow treat as such.
type rowRef struct {
	off, hi int32
	wrapped bool
}

func (s *screen) row(y int) []cell {
	o := int(s.lines[y].off)
	return s.cells[o : o+s.cols : o+s.cols]
}

// touch records that row y may hold content up to column x (exclusive).
func (s *screen) touch(y, x int) {
	if r := &s.lines[y]; int32(x) > r.hi {
		r.hi = int32(x)
	}
}

// used returns the part of row y that may hold content.
func (s *screen) used(y int) []cell {
	r := s.lines[y]
	return s.cells[r.off : r.off+r.hi]
}

// clearAll blanks every cell in the default style.
func (s *screen) clearAll() {
	clear(s.cells)
	for i := range s.lines {
		s.lines[i].hi = 0
		s.lines[i].wrapped = false
	}
}

// savedCursor is what DECSC saves. The zero value is what DECRC restores
// when nothing was saved.
type savedCursor struct {
	x, y   int
	pen    style
	origin bool
	cs     charsets
}

// charsets tracks G0/G1 designations and which one is shifted in. Only DEC
// special graphics is distinguished from ASCII; its glyphs are translated
// when stored, so the repaint needs no charset switching.
type charsets struct {
	g  [2]uint8 // csASCII or csGraphics
	gl uint8    // 0 = G0 (SI), 1 = G1 (SO)
}

const (
	csASCII    = 0
	csGraphics = 1
)

// New returns a terminal of cols x rows cells keeping at most scrollback
// lines above the primary screen (0 = none).
func New(cols, rows, scrollback int) *Terminal {
	cols, rows = clampDim(cols), clampDim(rows)
	if scrollback < 0 {
		scrollback = 0
	}
	t := &Terminal{cols: cols, rows: rows}
	t.sb.max = scrollback
	t.pri = newScreen(cols, rows)
	t.scr = t.pri
	t.tabs = make([]bool, cols)
	t.reset()
	return t
}

func clampDim(n int) int {
	if n < 1 {
		return 1
	}
	if n > maxDim {
		return maxDim
	}
	return n
}

func newScreen(cols, rows int) *screen {
	s := &screen{cells: make([]cell, cols*rows), lines: make([]rowRef, rows), cols: cols}
	for i := range s.lines {
		s.lines[i].off = int32(i * cols)
	}
	return s
}

// reset puts everything except scrollback and title into the power-on
// state (RIS).
func (t *Terminal) reset() {
	t.scr = t.pri
	t.altMode = 0
	t.pri.clearAll()
	t.pri.saved = savedCursor{}
	if t.alt != nil {
		t.alt.saved = savedCursor{}
	}
	t.x, t.y, t.wrapPending = 0, 0, false
	t.pen = style{}
	t.top, t.bot = 0, t.rows-1
	t.cs = charsets{}
	t.modes = defaultModes()
	t.cursorStyle = 0
	t.lastChar, t.lastW = 0, 0
	t.resetTabs(0)
	t.p.reset()
}

func (t *Terminal) resetTabs(from int) {
	for i := from; i < len(t.tabs); i++ {
		t.tabs[i] = i%8 == 0 && i > 0
	}
}

// Write feeds program output to the terminal. It never blocks and never
// fails; queries are consumed without reply.
func (t *Terminal) Write(p []byte) (int, error) {
	t.unpack()
	t.parse(p)
	return len(p), nil
}

// Size returns the screen size in cells.
func (t *Terminal) Size() (cols, rows int) { return t.cols, t.rows }

// Title returns the window title set by OSC 0/2.
func (t *Terminal) Title() string { return t.title }

// CursorPos returns the 0-based cursor position.
func (t *Terminal) CursorPos() (x, y int) { return t.x, t.y }

// CursorVisible reports whether the cursor is shown (DECTCEM).
func (t *Terminal) CursorVisible() bool { return !t.modes.hidden }

// AltScreen reports whether the alternate screen is active.
func (t *Terminal) AltScreen() bool { return t.scr == t.alt }

// LineText returns screen row y of the active screen as text with trailing
// blanks trimmed. Out-of-range rows are empty.
func (t *Terminal) LineText(y int) string {
	if y < 0 || y >= t.rows {
		return ""
	}
	t.unpack()
	return t.rowText(t.scr.row(y))
}

// ScrollbackLen returns the number of lines held in scrollback.
func (t *Terminal) ScrollbackLen() int {
	if t.sbPk != nil {
		return t.sbPk.n
	}
	return t.sb.len()
}

// ScrollbackText returns scrollback line i as text (0 = oldest).
func (t *Terminal) ScrollbackText(i int) string {
	t.unpackScrollback()
	if i < 0 || i >= t.sb.len() {
		return ""
	}
	return t.rowText(t.sb.line(i))
}

func (t *Terminal) rowText(row []cell) string {
	end := len(row)
	for end > 0 && row[end-1].blank() {
		end--
	}
	var b []byte
	for _, c := range row[:end] {
		b = t.appendCellText(b, c)
	}
	return string(b)
}

// appendCellText appends the text of c; continuation halves add nothing.
func (t *Terminal) appendCellText(b []byte, c cell) []byte {
	switch {
	case c.ch&chCont != 0:
		return b
	case c.ch&chCluster != 0:
		if id := int(c.ch & chRuneMask); id < len(t.clusters) {
			return append(b, t.clusters[id]...)
		}
		return append(b, ' ')
	case c.ch == 0:
		return append(b, ' ')
	}
	return utf8.AppendRune(b, rune(c.ch&chRuneMask))
}

// Resize changes the screen size without reflow, as xterm does with reflow
// off: rows are truncated or padded on the right; when the screen gets
// shorter, lines above the cursor are pushed into scrollback so the cursor
// row stays visible. The scroll region is reset and the cursor clamped.
func (t *Terminal) Resize(cols, rows int) {
	cols, rows = clampDim(cols), clampDim(rows)
	if cols == t.cols && rows == t.rows {
		return
	}
	t.unpack()
	t.unpackScrollback()
	onAlt := t.scr == t.alt
	// The inactive primary keeps its own notion of the cursor row: the one
	// saved on entering the alternate screen.
	priY := t.y
	if onAlt {
		priY = t.pri.saved.y
	}
	shift := t.resizeScreen(t.pri, cols, rows, priY, true)
	if onAlt {
		t.pri.saved.y -= shift
		shift = t.resizeScreen(t.alt, cols, rows, t.y, false)
		t.y -= shift
	} else {
		t.y -= shift
		if t.alt != nil {
			// Contents of an inactive alternate screen are never shown again.
			t.alt = nil
		}
	}
	oldCols := t.cols
	t.cols, t.rows = cols, rows
	if cols != oldCols {
		tabs := make([]bool, cols)
		copy(tabs, t.tabs)
		t.tabs = tabs
		if cols > oldCols {
			t.resetTabs(oldCols)
		}
	}
	t.top, t.bot = 0, rows-1
	t.wrapPending = false
	t.x = min(max(t.x, 0), cols-1)
	t.y = min(max(t.y, 0), rows-1)
	for _, s := range []*screen{t.pri, t.alt} {
		if s != nil {
			s.saved.x = min(max(s.saved.x, 0), cols-1)
			s.saved.y = min(max(s.saved.y, 0), rows-1)
		}
	}
}

// resizeScreen rebuilds s at the new size and returns how many rows were
// dropped from the top (pushed to scrollback when save is set).
func (t *Terminal) resizeScreen(s *screen, cols, rows, curY int, save bool) int {
	shift := 0
	if old := len(s.lines); rows < old && curY >= rows {
		shift = curY - rows + 1
	}
	if save {
		for i := 0; i < shift; i++ {
			t.sb.push(s.used(i), s.lines[i].wrapped)
		}
	}
	ns := newScreen(cols, rows)
	for i := range ns.lines {
		if shift+i >= len(s.lines) {
			break
		}
		dst := ns.row(i)
		copy(dst, s.row(shift+i))
		ns.lines[i].hi = min(s.lines[shift+i].hi, int32(cols))
		ns.lines[i].wrapped = s.lines[shift+i].wrapped
		if last := dst[cols-1]; last.ch&chWide != 0 {
			dst[cols-1] = cell{st: last.st}
		}
	}
	// The last row continues nowhere.
	ns.lines[rows-1].wrapped = false
	s.cells, s.lines, s.cols = ns.cells, ns.lines, ns.cols
	return shift
}
