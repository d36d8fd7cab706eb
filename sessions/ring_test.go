package sessions

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

func TestRing(t *testing.T) {
	for _, max := range []int{1, 7, 100, 5000} {
		r := newRing(max)
		var all []byte
		rnd := rand.New(rand.NewPCG(uint64(max), 3))
		for i := range 300 {
			p := make([]byte, rnd.IntN(max*2+3))
			for j := range p {
				p[j] = byte(rnd.IntN(256))
			}
			r.write(p)
			all = append(all, p...)
			if r.held() > max {
				t.Fatalf("max %d: holds %d", max, r.held())
			}
			if r.end != int64(len(all)) {
				t.Fatalf("end %d, want %d", r.end, len(all))
			}
			for _, from := range []int64{0, int64(len(all)) - int64(max), int64(len(all)) - int64(rnd.IntN(max+1)), int64(len(all)), int64(len(all)) + 1} {
				got, ok := r.appendFrom([]byte("x"), from, max)
				want := from >= int64(len(all))-int64(min(max, len(all))) && from <= int64(len(all)) && from >= 0
				if ok != want {
					t.Fatalf("max %d step %d: from %d ok=%v, want %v", max, i, from, ok, want)
				}
				if ok && !bytes.Equal(got[1:], all[from:]) {
					t.Fatalf("max %d step %d: from %d wrong bytes", max, i, from)
				}
				if limit := rnd.IntN(max + 1); ok {
					got, _ := r.appendFrom(nil, from, limit)
					if want := all[from:][:min(limit, len(all)-int(from))]; !bytes.Equal(got, want) {
						t.Fatalf("max %d step %d: from %d limit %d: wrong bytes", max, i, from, limit)
					}
				}
			}
		}
	}
}

func TestRingGrowsLazily(t *testing.T) {
	r := newRing(2 << 20)
	r.write([]byte("prompt$ "))
	if c := cap(r.buf); c > minRingGrow {
		t.Fatalf("a prompt took %d bytes of ring", c)
	}
}
