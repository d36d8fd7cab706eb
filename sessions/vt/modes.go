package vt

// modes holds the terminal modes that survive in the repaint. Modes that
// only change what the client sends (keys, mouse, paste) are tracked purely
// so the repaint can restore them.
type modes struct {
	autowrap bool // DECAWM (7)
	origin   bool // DECOM (6)
	hidden   bool // !DECTCEM (25)
	insert   bool // IRM (ANSI 4)
	newline  bool // LNM (ANSI 20)

	flags uint16 // passthrough DEC private modes, see passMode
	mouse int    // 0, 9, 1000, 1001, 1002 or 1003 (mutually exclusive in xterm)
	enc   int    // 0, 1005, 1006, 1015 or 1016 (mutually exclusive in xterm)
}

func defaultModes() modes { return modes{autowrap: true} }

// passModes are DEC private modes that do not change how output is
// interpreted; each owns one bit of modes.flags. The list is a function
// rather than a table so the package has no mutable globals.
func passMode(m int) (bit uint16, ok bool) {
	switch m {
	case 1: // DECCKM application cursor keys
		return 1 << 0, true
	case 5: // DECSCNM reverse video
		return 1 << 1, true
	case 45: // reverse wraparound
		return 1 << 2, true
	case 66: // DECNKM application keypad (also ESC = / ESC >)
		return 1 << 3, true
	case 1004: // focus events
		return 1 << 4, true
	case 1007: // alternate scroll
		return 1 << 5, true
	case 2004: // bracketed paste
		return 1 << 6, true
	case 12: // cursor blink (att610)
		return 1 << 7, true
	case 40: // allow DECCOLM
		return 1 << 8, true
	}
	return 0, false
}

// passModeList is the order in which the repaint restores passthrough modes.
func passModeList() [9]int { return [9]int{1, 5, 12, 40, 45, 66, 1004, 1007, 2004} }

func (t *Terminal) setPrivateMode(m int, on bool) {
	if bit, ok := passMode(m); ok {
		if on {
			t.modes.flags |= bit
		} else {
			t.modes.flags &^= bit
		}
		return
	}
	switch m {
	case 3:
		t.setColumnMode()
	case 6:
		t.modes.origin = on
		t.moveTo(0, 0)
	case 7:
		t.modes.autowrap = on
		if !on {
			t.wrapPending = false
		}
	case 25:
		t.modes.hidden = !on
	case 9, 1000, 1001, 1002, 1003:
		if on {
			t.modes.mouse = m
		} else {
			t.modes.mouse = 0
		}
	case 1005, 1006, 1015, 1016:
		if on {
			t.modes.enc = m
		} else {
			t.modes.enc = 0
		}
	case 47, 1047, 1049:
		if on {
			t.enterAlt(m)
		} else {
			t.exitAlt(m)
		}
	case 1048:
		if on {
			t.saveCursor()
		} else {
			t.restoreCursor()
		}
	}
}

// setColumnMode is DECCOLM as xterm does it: only once allowed by mode 40
// (off by default), it resets the margins, erases the screen and homes the
// cursor. The width stays: the clients' windows decide it, not the program.
// tmux does the same without waiting for mode 40; xterm.js ignores DECCOLM.
func (t *Terminal) setColumnMode() {
	if bit, _ := passMode(40); t.modes.flags&bit == 0 {
		return
	}
	t.top, t.bot = 0, t.rows-1
	t.eraseDisplay(2)
	t.moveTo(0, 0)
}

func (t *Terminal) setANSIMode(m int, on bool) {
	switch m {
	case 4:
		t.modes.insert = on
	case 20:
		t.modes.newline = on
	}
}

// enterAlt switches to the alternate screen. It is always cleared on entry,
// as xterm.js does (xterm keeps old contents for 47/1047, but nothing can
// have drawn there since, so clients that stream our bytes agree).
func (t *Terminal) enterAlt(m int) {
	if t.scr == t.alt {
		return
	}
	if m == 1049 {
		t.saveCursor()
	}
	if t.alt == nil || len(t.alt.lines) != t.rows || t.alt.cols != t.cols {
		t.alt = newScreen(t.cols, t.rows)
	} else {
		t.alt.clearAll()
		t.alt.saved = savedCursor{}
	}
	t.scr = t.alt
	t.altMode = m
	t.wrapPending = false
}

func (t *Terminal) exitAlt(m int) {
	if t.scr != t.alt {
		if m == 1049 {
			// xterm restores the cursor even when already on the primary.
			t.restoreCursor()
		}
		return
	}
	t.scr = t.pri
	t.altMode = 0
	t.wrapPending = false
	if m == 1049 {
		t.restoreCursor()
	}
}

func (t *Terminal) saveCursor() {
	t.scr.saved = savedCursor{x: t.x, y: t.y, pen: t.pen, origin: t.modes.origin, cs: t.cs}
}

func (t *Terminal) restoreCursor() {
	s := t.scr.saved
	t.x = min(max(s.x, 0), t.cols-1)
	t.y = min(max(s.y, 0), t.rows-1)
	t.pen = s.pen
	t.modes.origin = s.origin
	t.cs = s.cs
	t.wrapPending = false
}
