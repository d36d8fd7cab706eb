package vt

// scrollback is a ring of lines above the primary screen. Lines are stored
// with trailing default blanks trimmed, packed back to back into large
// blocks: a full ring recycles the oldest block, so steady-state scrolling
// allocates nothing and memory follows the text actually kept.
type scrollback struct {
	max   int
	lines [][]cell // ring, grows by append until max
	wraps []bool   // wraps[i]: lines[i] was soft wrapped into the next line
	head  int      // index of the oldest line once the ring is full
	count int

	blocks []sbBlock // FIFO; blocks[0] holds the oldest non-empty line
	spares [][]cell  // recycled blocks, at most maxSpares
}

type sbBlock struct {
	cells []cell
	used  int
	live  int // non-empty lines still referencing the block
}

const (
	sbBlockCells = 4096
	// The number of live blocks drifts as line lengths vary; keeping dead
	// blocks up to the high-water mark (at least minSpares, at most a
	// quarter of the live ones) absorbs that without allocating.
	minSpares = 2
)

func (s *scrollback) len() int { return s.count }

func (s *scrollback) line(i int) []cell {
	return s.lines[(s.head+i)%len(s.lines)]
}

func (s *scrollback) wrapped(i int) bool {
	return s.wraps[(s.head+i)%len(s.lines)]
}

func (s *scrollback) clear() {
	max := s.max
	*s = scrollback{max: max}
}

// push appends a copy of row, evicting the oldest line when full.
func (s *scrollback) push(row []cell, wrapped bool) {
	if s.max <= 0 {
		return
	}
	n := len(row)
	for n > 0 {
		// blank in the default style: ch is 0 or ' ', no colours or attributes
		if c := row[n-1]; (c.ch&^' ')|c.st.fg|c.st.bg != 0 {
			break
		}
		n--
	}
	if s.count == s.max {
		s.evict()
	}
	var dst []cell
	if n > 0 {
		dst = s.alloc(n)
		copy(dst, row[:n])
	}
	if len(s.lines) < s.max {
		s.lines = append(s.lines, dst)
		s.wraps = append(s.wraps, wrapped)
		s.count++
		return
	}
	i := (s.head + s.count) % len(s.lines)
	s.lines[i], s.wraps[i] = dst, wrapped
	s.count++
}

// evict drops the oldest line; its slot is reused by the caller.
func (s *scrollback) evict() {
	old := s.lines[s.head]
	s.lines[s.head] = nil
	s.head = (s.head + 1) % len(s.lines)
	s.count--
	if len(old) == 0 || len(s.blocks) == 0 {
		return
	}
	b := &s.blocks[0]
	b.live--
	if b.live > 0 {
		return
	}
	if len(s.blocks) == 1 {
		b.used = 0 // nothing references it any more: refill from the start
		return
	}
	if len(s.spares) < max(minSpares, len(s.blocks)/4) {
		s.spares = append(s.spares, b.cells[:cap(b.cells)])
	}
	copy(s.blocks, s.blocks[1:])
	s.blocks[len(s.blocks)-1] = sbBlock{}
	s.blocks = s.blocks[:len(s.blocks)-1]
}

// alloc returns n cells of storage in the newest block.
func (s *scrollback) alloc(n int) []cell {
	if k := len(s.blocks); k > 0 {
		b := &s.blocks[k-1]
		if len(b.cells)-b.used >= n {
			dst := b.cells[b.used : b.used+n : b.used+n]
			b.used += n
			b.live++
			return dst
		}
	}
	size := max(sbBlockCells, n)
	var cells []cell
	if k := len(s.spares); k > 0 && len(s.spares[k-1]) >= size {
		cells = s.spares[k-1]
		s.spares[k-1] = nil
		s.spares = s.spares[:k-1]
	} else {
		cells = make([]cell, size)
	}
	s.blocks = append(s.blocks, sbBlock{cells: cells, used: n, live: 1})
	return cells[:n:n]
}
