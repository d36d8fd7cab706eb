package sessions

// ring keeps the most recent output bytes together with their offsets, so a
// reconnecting client can be sent exactly what it missed. Memory is taken as
// output arrives, never up front: most sessions print a prompt and little else,
// and hundreds of idle sessions must stay cheap.
type ring struct {
	buf   []byte // len(buf) grows to max; then it wraps
	max   int
	start int   // index in buf of the oldest byte once wrapped
	end   int64 // offset just after the newest byte
}

// minRingGrow is the first allocation; small enough for an idle prompt.
const minRingGrow = 1 << 10

func newRing(max int) ring { return ring{max: max} }

// held reports how many bytes the ring holds.
func (r *ring) held() int { return len(r.buf) }

// write appends p, which ends at offset r.end+len(p).
func (r *ring) write(p []byte) {
	r.end += int64(len(p))
	if r.max <= 0 {
		return
	}
	if len(p) >= r.max {
		// Only the tail survives.
		p = p[len(p)-r.max:]
		if cap(r.buf) < r.max {
			r.buf = make([]byte, r.max)
		}
		r.buf = r.buf[:r.max]
		copy(r.buf, p)
		r.start = 0
		return
	}
	if len(r.buf) < r.max {
		if need := len(r.buf) + len(p); need <= r.max {
			if need > cap(r.buf) {
				r.grow(need)
			}
			r.buf = append(r.buf, p...)
			return
		}
		// Fill up to max, then wrap the rest.
		n := r.max - len(r.buf)
		if r.max > cap(r.buf) {
			r.grow(r.max)
		}
		r.buf = append(r.buf, p[:n]...)
		p = p[n:]
		r.start = 0
	}
	// Full: overwrite the oldest bytes.
	for len(p) > 0 {
		n := copy(r.buf[r.start:], p)
		p = p[n:]
		r.start += n
		if r.start == len(r.buf) {
			r.start = 0
		}
	}
}

// grow doubles the capacity (bounded by max) so appends stay amortised O(1)
// without ever reserving more than the cap.
func (r *ring) grow(need int) {
	c := max(2*cap(r.buf), minRingGrow, need)
	c = min(c, r.max)
	nb := make([]byte, len(r.buf), c)
	copy(nb, r.buf)
	r.buf = nb
}

// slices returns the bytes from offset from to the end as at most two
// slices of the ring's own memory (valid until the next write), and reports
// whether the ring still held all of them.
func (r *ring) slices(from int64) (a, b []byte, ok bool) {
	if from > r.end || from < r.end-int64(len(r.buf)) || from < 0 {
		return nil, nil, false
	}
	n := int(r.end - from)
	if len(r.buf) < r.max || r.start == 0 {
		// Not wrapped (or wrapped exactly at the seam): contiguous.
		return r.buf[len(r.buf)-n:], nil, true
	}
	// Logical order is buf[start:] then buf[:start].
	if n <= r.start {
		return r.buf[r.start-n : r.start], nil, true
	}
	first := r.buf[r.start:]
	return first[len(first)-(n-r.start):], r.buf[:r.start], true
}

// appendFrom appends up to limit bytes from offset from and reports whether
// the ring still held them.
func (r *ring) appendFrom(dst []byte, from int64, limit int) ([]byte, bool) {
	a, b, ok := r.slices(from)
	if !ok {
		return dst, false
	}
	if len(a) >= limit {
		return append(dst, a[:limit]...), true
	}
	dst = append(dst, a...)
	return append(dst, b[:min(len(b), limit-len(a))]...), true
}
