package counter

import (
	"slices"
	"testing"
	"time"
)

func TestHistogram(t *testing.T) {
	h := NewHistogram(time.Millisecond, 10*time.Millisecond)
	for _, d := range []time.Duration{0, time.Millisecond, 2 * time.Millisecond, 10 * time.Millisecond, time.Second} {
		h.Observe(d)
	}
	s := h.Snapshot()
	if !slices.Equal(s.Cumulative, []uint64{2, 4}) || s.Count != 5 || s.Sum != 1013*time.Millisecond {
		t.Fatalf("snapshot %+v", s)
	}
}
