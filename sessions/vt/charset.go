package vt

// translate maps a printable ASCII byte through the shifted-in character
// set. DEC special graphics is stored as the Unicode box-drawing characters
// (as tmux does) so the repaint never has to switch charsets.
func (t *Terminal) translate(b byte) rune {
	if t.cs.g[t.cs.gl] != csGraphics || b < 0x5f || b > 0x7e {
		return rune(b)
	}
	const decGraphics = "\u00a0◆▒␉␌␍␊°±␤␋┘┐┌└┼⎺⎻─⎼⎽├┤┴┬│≤≥π≠£·"
	i := int(b - 0x5f)
	for _, r := range decGraphics {
		if i == 0 {
			return r
		}
		i--
	}
	return rune(b)
}
