package vt

import "strconv"

// sgr applies Select Graphic Rendition parameters to the pen. Both the
// colon (ITU T.416) and the semicolon forms of extended colours are accepted.
func (t *Terminal) sgr() {
	p := &t.p
	ps := p.params[:p.np]
	pen := t.pen
	for i := 0; i < len(ps); i++ {
		v := ps[i]
		j := i + 1
		for j < len(ps) && p.sub&(1<<j) != 0 {
			j++
		}
		subs := ps[i+1 : j]
		switch {
		case v == 0:
			pen = style{}
		case v == 1:
			pen.fg |= attrBold
		case v == 2:
			pen.fg |= attrFaint
		case v == 3:
			pen.fg |= attrItalic
		case v == 4:
			ul := uint32(1)
			if len(subs) > 0 {
				ul = uint32(min(subs[0], 5))
			}
			pen.bg = pen.bg&^ulMask | ul<<ulShift
		case v == 5 || v == 6:
			pen.fg |= attrBlink
		case v == 7:
			pen.fg |= attrInverse
		case v == 8:
			pen.fg |= attrInvisible
		case v == 9:
			pen.bg |= attrStrike
		case v == 21:
			pen.bg = pen.bg&^ulMask | 2<<ulShift
		case v == 22:
			pen.fg &^= attrBold | attrFaint
		case v == 23:
			pen.fg &^= attrItalic
		case v == 24:
			pen.bg &^= ulMask
		case v == 25:
			pen.fg &^= attrBlink
		case v == 27:
			pen.fg &^= attrInverse
		case v == 28:
			pen.fg &^= attrInvisible
		case v == 29:
			pen.bg &^= attrStrike
		case v >= 30 && v <= 37:
			pen.fg = pen.fg&^colorBits | kind16 | uint32(v-30)
		case v == 39:
			pen.fg &^= colorBits
		case v >= 40 && v <= 47:
			pen.bg = pen.bg&^colorBits | kind16 | uint32(v-40)
		case v == 49:
			pen.bg &^= colorBits
		case v == 53:
			pen.bg |= attrOverline
		case v == 55:
			pen.bg &^= attrOverline
		case v >= 90 && v <= 97:
			pen.fg = pen.fg&^colorBits | kind16 | uint32(v-90+8)
		case v >= 100 && v <= 107:
			pen.bg = pen.bg&^colorBits | kind16 | uint32(v-100+8)
		case v == 38 || v == 48 || v == 58:
			var col uint32
			var ok bool
			if len(subs) > 0 {
				col, ok = extColor(subs, true)
			} else {
				// Semicolon form: the colour takes the following parameters.
				var used int
				col, ok, used = extColorSemi(ps[j:])
				j += used
			}
			if !ok {
				break
			}
			switch v {
			case 38:
				pen.fg = pen.fg&^colorBits | col
			case 48:
				pen.bg = pen.bg&^colorBits | col
			} // 58 (underline colour) is parsed only to skip its arguments
		}
		i = j - 1
	}
	t.pen = pen
}

// extColor decodes "5:n", "2:r:g:b" or "2:cs:r:g:b".
func extColor(s []int32, colon bool) (uint32, bool) {
	if len(s) == 0 {
		return 0, false
	}
	switch s[0] {
	case 5:
		if len(s) < 2 {
			return 0, false
		}
		return kind256 | uint32(min(s[1], 255)), true
	case 2:
		rgb := s[1:]
		if colon && len(rgb) >= 4 {
			rgb = rgb[1:] // skip the colour-space identifier
		}
		if len(rgb) < 3 {
			return 0, false
		}
		r, g, b := uint32(min(rgb[0], 255)), uint32(min(rgb[1], 255)), uint32(min(rgb[2], 255))
		return kindRGB | r<<16 | g<<8 | b, true
	}
	return 0, false
}

func extColorSemi(s []int32) (col uint32, ok bool, used int) {
	if len(s) == 0 {
		return 0, false, 0
	}
	switch s[0] {
	case 5:
		used = min(2, len(s))
	case 2:
		used = min(4, len(s))
	default:
		return 0, false, 1
	}
	col, ok = extColor(s[:used], false)
	return col, ok, used
}

// appendSGR appends one SGR sequence that sets exactly s, starting from a
// reset so the client's previous pen does not matter.
func appendSGR(dst []byte, s style) []byte {
	dst = append(dst, "\x1b[0"...)
	fg, bg := s.fg, s.bg
	if fg&attrBold != 0 {
		dst = append(dst, ";1"...)
	}
	if fg&attrFaint != 0 {
		dst = append(dst, ";2"...)
	}
	if fg&attrItalic != 0 {
		dst = append(dst, ";3"...)
	}
	switch (bg & ulMask) >> ulShift {
	case 0:
	case 1:
		dst = append(dst, ";4"...)
	case 2:
		dst = append(dst, ";21"...)
	default:
		dst = append(dst, ";4:"...)
		dst = strconv.AppendUint(dst, uint64((bg&ulMask)>>ulShift), 10)
	}
	if fg&attrBlink != 0 {
		dst = append(dst, ";5"...)
	}
	if fg&attrInverse != 0 {
		dst = append(dst, ";7"...)
	}
	if fg&attrInvisible != 0 {
		dst = append(dst, ";8"...)
	}
	if bg&attrStrike != 0 {
		dst = append(dst, ";9"...)
	}
	if bg&attrOverline != 0 {
		dst = append(dst, ";53"...)
	}
	dst = appendColor(dst, fg, 30, 90, "38")
	dst = appendColor(dst, bg, 40, 100, "48")
	return append(dst, 'm')
}

func appendColor(dst []byte, c uint32, base, bright uint64, ext string) []byte {
	v := uint64(c & colorValue)
	switch c & colorKind {
	case kind16:
		dst = append(dst, ';')
		if v < 8 {
			return strconv.AppendUint(dst, base+v, 10)
		}
		return strconv.AppendUint(dst, bright+v-8, 10)
	case kind256:
		dst = append(dst, ';')
		dst = append(dst, ext...)
		dst = append(dst, ";5;"...)
		return strconv.AppendUint(dst, v, 10)
	case kindRGB:
		dst = append(dst, ';')
		dst = append(dst, ext...)
		dst = append(dst, ";2;"...)
		dst = strconv.AppendUint(dst, v>>16, 10)
		dst = append(dst, ';')
		dst = strconv.AppendUint(dst, v>>8&0xff, 10)
		dst = append(dst, ';')
		return strconv.AppendUint(dst, v&0xff, 10)
	}
	return dst
}
