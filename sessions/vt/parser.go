package vt

import "unicode/utf8"

// The parser follows the DEC/VT500 state machine (vt100.net/emu/dec_ansi_parser)
// restricted to what xterm uses, with a fast path for runs of printable
// ASCII. All state lives in the Terminal so sequences and UTF-8 may be split
// across Write calls at any byte.

const (
	stGround = iota
	stEsc
	stCSI
	stCSIIgnore
	stOSC
	stString // DCS, SOS, PM, APC: consumed and ignored
)

const (
	maxParams = 32
	maxParam  = 65535
	maxOSC    = 4096
)

type parser struct {
	state  uint8
	params [maxParams]int32
	np     int
	sub    uint32 // bit i set: params[i] followed a ':' (a sub-parameter)
	priv   byte   // CSI private marker < = > ?
	inter  byte   // last intermediate byte
	osc    []byte
	u8     [4]byte // partial UTF-8 sequence
	u8n    int
}

func (p *parser) reset() {
	p.state = stGround
	p.u8n = 0
}

func (p *parser) clearSeq() {
	p.np = 1
	p.params[0] = 0
	p.sub = 0
	p.priv = 0
	p.inter = 0
}

func (t *Terminal) parse(b []byte) {
	p := &t.p
	i := 0
	for i < len(b) {
		c := b[i]
		if p.state == stGround {
			if p.u8n > 0 {
				i = t.continueUTF8(b, i)
				continue
			}
			if c-0x20 < 0x5f {
				i = t.printASCII(b, i)
				continue
			}
			if c < 0x20 {
				t.execute(c)
				i++
				continue
			}
			if c == 0x7f {
				i++
				continue
			}
			// Inline the common 2- and 3-byte forms (accents, CJK, box
			// drawing); utf8.DecodeRune handles everything else.
			if c >= 0xe0 && c < 0xf0 && i+2 < len(b) {
				c1, c2 := b[i+1], b[i+2]
				r := rune(c&0x0f)<<12 | rune(c1&0x3f)<<6 | rune(c2&0x3f)
				if c1&0xc0 == 0x80 && c2&0xc0 == 0x80 && r >= 0x800 && (r < 0xd800 || r > 0xdfff) {
					t.printRune(r)
					i += 3
					continue
				}
			} else if c >= 0xc2 && c < 0xe0 && i+1 < len(b) && b[i+1]&0xc0 == 0x80 {
				t.printRune(rune(c&0x1f)<<6 | rune(b[i+1]&0x3f))
				i += 2
				continue
			}
			if utf8.FullRune(b[i:]) {
				r, n := utf8.DecodeRune(b[i:])
				t.printRune(r)
				i += n
				continue
			}
			p.u8n = copy(p.u8[:], b[i:])
			return
		}
		i++
		switch p.state {
		case stEsc:
			t.escByte(c)
		case stCSI:
			t.csiByte(c)
		case stCSIIgnore:
			switch {
			case c >= 0x40 && c <= 0x7e:
				p.state = stGround
			case c < 0x20:
				t.execute(c)
			}
		case stOSC:
			i = t.oscBytes(b, i-1)
		case stString:
			if c == 0x1b || c == 0x18 || c == 0x1a {
				t.execute(c)
				break
			}
			for i < len(b) && b[i] != 0x1b && b[i] != 0x18 && b[i] != 0x1a {
				i++
			}
		}
	}
}

// continueUTF8 completes a sequence split across writes. It decodes exactly
// as utf8.DecodeRune would on the unsplit input, so chunking never changes
// the result.
func (t *Terminal) continueUTF8(b []byte, i int) int {
	p := &t.p
	var tmp [4]byte
	n := copy(tmp[:], p.u8[:p.u8n])
	m := copy(tmp[n:], b[i:])
	if !utf8.FullRune(tmp[:n+m]) {
		p.u8n = n + m
		copy(p.u8[:], tmp[:n+m])
		return len(b)
	}
	r, size := utf8.DecodeRune(tmp[:n+m])
	p.u8n = 0
	t.printRune(r)
	if size >= n {
		return i + size - n
	}
	// The stashed tail were continuation bytes, each invalid on its own.
	for k := size; k < n; k++ {
		t.printRune(utf8.RuneError)
	}
	return i
}

// execute runs a C0 control. In any state, ESC starts a new sequence and
// CAN/SUB abort the current one.
func (t *Terminal) execute(c byte) {
	switch c {
	case 0x1b:
		t.p.state = stEsc
		t.p.clearSeq()
		return
	case 0x18, 0x1a:
		t.p.state = stGround
		return
	}
	t.lastChar = 0
	switch c {
	case '\b':
		t.backspace()
	case '\t':
		t.tab(1)
	case '\n', '\v', '\f':
		t.index()
		if t.modes.newline {
			t.x = 0
		}
	case '\r':
		t.x, t.wrapPending = 0, false
	case 0x0e:
		t.cs.gl = 1
	case 0x0f:
		t.cs.gl = 0
	}
}

func (t *Terminal) escByte(c byte) {
	p := &t.p
	switch {
	case c < 0x20:
		t.execute(c)
	case c < 0x30:
		p.inter = c
	case c == '[' && p.inter == 0:
		p.clearSeq()
		p.state = stCSI
	case c == ']' && p.inter == 0:
		p.osc = p.osc[:0]
		p.state = stOSC
	case (c == 'P' || c == 'X' || c == '^' || c == '_') && p.inter == 0:
		p.state = stString
	case c < 0x7f:
		p.state = stGround
		t.escDispatch(c, p.inter)
	case c == 0x7f:
	default:
		// A non-ASCII byte cannot continue an escape: drop the sequence.
		p.state = stGround
	}
}

func (t *Terminal) escDispatch(c, inter byte) {
	t.lastChar = 0
	switch inter {
	case 0:
	case '(', ')':
		g := 0
		if inter == ')' {
			g = 1
		}
		if c == '0' {
			t.cs.g[g] = csGraphics
		} else {
			t.cs.g[g] = csASCII
		}
		return
	case '#':
		if c == '8' {
			t.alignmentTest()
		}
		return
	default:
		return
	}
	switch c {
	case '7':
		t.saveCursor()
	case '8':
		t.restoreCursor()
	case 'D':
		t.index()
	case 'E':
		t.index()
		t.x = 0
	case 'M':
		t.reverseIndex()
	case 'H':
		t.tabs[t.x] = true
	case 'c':
		t.reset()
	case '=':
		t.setPrivateMode(66, true)
	case '>':
		t.setPrivateMode(66, false)
	}
}

func (t *Terminal) csiByte(c byte) {
	p := &t.p
	switch {
	case c >= '0' && c <= '9':
		if p.inter != 0 {
			p.state = stCSIIgnore
			return
		}
		v := &p.params[p.np-1]
		if *v < maxParam {
			*v = *v*10 + int32(c-'0')
			if *v > maxParam {
				*v = maxParam
			}
		}
	case c == ';' || c == ':':
		if p.inter != 0 {
			p.state = stCSIIgnore
			return
		}
		if p.np == maxParams {
			return // extra parameters are dropped
		}
		if c == ':' {
			p.sub |= 1 << p.np
		}
		p.params[p.np] = 0
		p.np++
	case c >= 0x40 && c <= 0x7e:
		p.state = stGround
		t.csiDispatch(c)
	case c < 0x20:
		t.execute(c)
	case c <= 0x2f:
		p.inter = c
	case c <= 0x3f: // < = > ?
		if p.np == 1 && p.params[0] == 0 && p.priv == 0 && p.inter == 0 {
			p.priv = c
		} else {
			p.state = stCSIIgnore
		}
	case c == 0x7f:
	default:
		p.state = stGround
	}
}

// oscBytes consumes OSC payload from b[i:] and returns the next index.
// BEL or ESC (the start of ST) ends the string.
func (t *Terminal) oscBytes(b []byte, i int) int {
	p := &t.p
	j := i
	for j < len(b) && b[j] >= 0x20 {
		j++
	}
	if room := maxOSC - len(p.osc); room > 0 {
		if p.osc == nil {
			p.osc = make([]byte, 0, 256)
		}
		p.osc = append(p.osc, b[i:min(j, i+room)]...)
	}
	if j == len(b) {
		return j
	}
	switch c := b[j]; c {
	case 0x07:
		p.state = stGround
		t.oscDispatch()
	case 0x1b:
		t.oscDispatch()
		t.execute(c)
	case 0x18, 0x1a:
		p.state = stGround
	}
	return j + 1
}

func (t *Terminal) oscDispatch() {
	s := t.p.osc
	n := 0
	k := 0
	for k < len(s) && s[k] >= '0' && s[k] <= '9' && n < 10000 {
		n = n*10 + int(s[k]-'0')
		k++
	}
	if k == 0 || k >= len(s) || s[k] != ';' {
		return
	}
	switch n {
	case 0, 2:
		t.setTitle(s[k+1:])
	}
}

const maxTitle = 1024

func (t *Terminal) setTitle(b []byte) {
	if len(b) > maxTitle {
		b = b[:maxTitle]
	}
	if string(b) == t.title {
		return
	}
	// Keep only printable text so the title can be echoed in a repaint.
	out := make([]byte, 0, len(b))
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		b = b[n:]
		if r < 0x20 || (r >= 0x7f && r < 0xa0) {
			continue
		}
		out = utf8.AppendRune(out, r)
	}
	t.title = string(out)
}

func (t *Terminal) param(i, def int) int {
	if i >= t.p.np || t.p.params[i] == 0 {
		return def
	}
	return int(t.p.params[i])
}

func (t *Terminal) csiDispatch(c byte) {
	p := &t.p
	if c != 'b' {
		t.lastChar = 0
	}
	if p.priv != 0 {
		if p.priv != '?' || p.inter != 0 {
			return // XTMODKEYS, DA2/DA3, XTVERSION, kitty keyboard...: ignored
		}
		switch c {
		case 'h', 'l':
			for i := 0; i < p.np; i++ {
				t.setPrivateMode(int(p.params[i]), c == 'h')
			}
		case 'J':
			t.eraseDisplay(t.param(0, 0))
		case 'K':
			t.eraseLine(t.param(0, 0))
		}
		return
	}
	if p.inter != 0 {
		switch {
		case p.inter == ' ' && c == 'q':
			if v := t.param(0, 0); v <= 6 {
				t.cursorStyle = v
			}
		case p.inter == '!' && c == 'p':
			t.softReset()
		}
		return
	}
	n := t.param(0, 1)
	switch c {
	case '@':
		t.insertCells(t.scr.row(t.y), t.x, n)
		t.wrapPending = false
	case 'A':
		t.moveUp(n)
	case 'B', 'e':
		t.moveDown(n)
	case 'C', 'a':
		t.moveCol(t.x + n)
	case 'D':
		t.moveCol(t.x - n)
	case 'E':
		t.moveDown(n)
		t.x = 0
	case 'F':
		t.moveUp(n)
		t.x = 0
	case 'G', '`':
		t.moveCol(n - 1)
	case 'H', 'f':
		t.moveTo(t.param(1, 1)-1, n-1)
	case 'I':
		t.tab(n)
	case 'J':
		t.eraseDisplay(t.param(0, 0))
	case 'K':
		t.eraseLine(t.param(0, 0))
	case 'L':
		t.insertLines(n)
	case 'M':
		t.deleteLines(n)
	case 'P':
		t.deleteCells(n)
	case 'S':
		t.scrollUp(t.top, t.bot, n, false)
	case 'T':
		if p.np <= 1 { // with more parameters it is xterm's mouse highlight
			t.scrollDown(t.top, t.bot, n)
		}
	case 'X':
		x := t.x
		t.eraseInRow(t.y, x, x+n)
	case 'Z':
		t.backTab(n)
	case 'b':
		t.repeat(n)
	case 'd':
		x := t.x
		t.moveTo(x, n-1)
	case 'g':
		switch t.param(0, 0) {
		case 0:
			t.tabs[t.x] = false
		case 3:
			clear(t.tabs)
		}
	case 'h', 'l':
		for i := 0; i < p.np; i++ {
			t.setANSIMode(int(p.params[i]), c == 'h')
		}
	case 'm':
		t.sgr()
	case 'r':
		t.setMargins(t.param(0, 1), t.param(1, t.rows))
	case 's':
		t.saveCursor()
	case 'u':
		t.restoreCursor()
	}
}

// softReset is DECSTR: modes and pen back to defaults, screen untouched.
func (t *Terminal) softReset() {
	t.modes.hidden = false
	t.modes.insert = false
	t.modes.origin = false
	t.modes.autowrap = true
	t.modes.flags &^= 1<<0 | 1<<3 // DECCKM, DECNKM
	t.top, t.bot = 0, t.rows-1
	t.pen = style{}
	t.cs = charsets{}
	t.scr.saved = savedCursor{}
	t.wrapPending = false
}
