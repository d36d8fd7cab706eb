package vt

// cell is one screen position. The style is packed inline (12 bytes per
// cell) so copying, comparing and clearing cells never chases a pointer and a
// 120x40 screen costs ~57 KiB.
type cell struct {
	ch uint32 // rune in the low 21 bits plus ch* flags
	st style
}

const (
	chRuneMask = 1<<21 - 1
	chWide     = 1 << 21 // first half of a two-cell character
	chCont     = 1 << 22 // second half of a two-cell character; no rune
	chCluster  = 1 << 23 // low bits index Terminal.clusters (base + combining marks)
)

// style packs colours and attributes into two words. Each word holds a
// colour (24-bit value + 2-bit kind) and six attribute bits, so a style
// compares with one 64-bit equality.
type style struct{ fg, bg uint32 }

const (
	colorValue = 1<<24 - 1
	colorKind  = 3 << 24
	colorBits  = colorValue | colorKind

	kindDefault = 0
	kind16      = 1 << 24 // 30-37/90-97 forms, value 0-15
	kind256     = 2 << 24 // 38;5;n
	kindRGB     = 3 << 24 // 38;2;r;g;b, value 0xRRGGBB

	// attributes kept in fg
	attrBold      = 1 << 26
	attrFaint     = 1 << 27
	attrItalic    = 1 << 28
	attrBlink     = 1 << 29
	attrInverse   = 1 << 30
	attrInvisible = 1 << 31

	// attributes kept in bg
	attrStrike   = 1 << 26
	attrOverline = 1 << 27
	ulShift      = 28
	ulMask       = 7 << ulShift // 0 none, 1 single, 2 double, 3 curly, 4 dotted, 5 dashed
)

// eraseStyle is what erased cells get: xterm's "background colour erase"
// keeps only the current background colour.
func (s style) erase() style { return style{bg: s.bg & colorBits} }

// blank reports whether c shows nothing but its background.
func (c cell) blank() bool { return c.ch == 0 || c.ch == ' ' }

// runeWidth returns the number of cells r occupies (0 for combining marks).
// r must be >= 0xa0 or printable ASCII.
func runeWidth(r rune) int {
	if r < 0x300 {
		return 1
	}
	if r > 0x10ffff {
		return 1
	}
	blk := int(widthStage1[r>>8])
	b := widthStage2[blk*64+int(r&0xff)>>2]
	return int(b>>(uint(r&3)*2)) & 3
}
