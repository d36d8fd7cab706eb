package workspaces

import (
	"slices"
	"testing"
	"time"
)

func TestProgressTracker(t *testing.T) {
	var got []Progress
	tr := newProgressTracker(func(p Progress) { got = append(got, p) })
	clock := time.Unix(0, 0)
	tr.now = func() time.Time { return clock }

	tr.report(StepCloning, 0, "Cloning")
	// A line split across writes, \r-separated redraws, and a final line.
	feed := []string{
		"Enumerating objects: 20, done.\n",
		"Counting objects:   5% (1/20)\rCounting objects:  50",
		"% (10/20)\rCounting objects: 100% (20/20), done.\n",
		"remote: Compressing objects:  50% (5/10)\r",
		"remote: Compressing objects: 100% (10/10), done.\n",
		"Total 20 (delta 3), reused 0 (delta 0), pack-reused 0\n",
		"Receiving objects:  10% (2/20)\rReceiving objects: 100% (20/20), 1.00 MiB | 2 MiB/s, done.\n",
		"Resolving deltas: 100% (3/3), done.\n",
		"Counting objects: 10% (2/20)\r", // a late lower phase must not move the bar back
	}
	for _, f := range feed {
		clock = clock.Add(time.Second) // past the throttle
		tr.Write([]byte(f))
	}
	tr.report(StepConfiguring, configuringPercent, "Configuring")
	tr.report(StepCompleted, 100, "done")

	last := -1
	for _, p := range got {
		if p.Percent < last {
			t.Fatalf("not monotonic: %+v", got)
		}
		last = p.Percent
	}
	if end := got[len(got)-1]; end.Step != StepCompleted || end.Percent != 100 {
		t.Fatalf("last = %+v", end)
	}
	want := map[string]int{
		"Counting objects: 100% (20/20)":    10,
		"Compressing objects: 100% (10/10)": 25,
		"Resolving deltas: 100% (3/3)":      90,
	}
	for msg, pct := range want {
		found := false
		for _, p := range got {
			if p.Message == msg {
				found = p.Percent == pct
			}
		}
		if !found {
			t.Errorf("no update %q at %d%% in %+v", msg, pct, got)
		}
	}
}

func TestProgressThrottle(t *testing.T) {
	var got []Progress
	tr := newProgressTracker(func(p Progress) { got = append(got, p) })
	clock := time.Unix(0, 0)
	tr.now = func() time.Time { return clock }
	tr.report(StepCloning, 0, "start")
	for i := 1; i <= 100; i++ {
		clock = clock.Add(5 * time.Millisecond) // 200 updates/s offered
		tr.Write([]byte("Receiving objects: " + itoa(i) + "% (" + itoa(i) + "/100)\r"))
	}
	tr.report(StepCompleted, 100, "done")
	// 500ms of updates at most 10/s, plus start and end.
	if len(got) > 8 {
		t.Fatalf("%d updates, want at most 8: %+v", len(got), got)
	}
	if got[len(got)-1].Percent != 100 {
		t.Fatalf("final update missing: %+v", got)
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

// The git binary's own phases, after the server's: the download moves the
// bar, and a slow checkout fills the gap before configuring.
func TestProgressClientPhases(t *testing.T) {
	var got []int
	tr := newProgressTracker(func(p Progress) { got = append(got, p.Percent) })
	clock := time.Unix(0, 0)
	tr.now = func() time.Time { return clock }
	for _, l := range []string{
		"Cloning into '/w/.partial-x-1'...\n",
		"remote: Counting objects: 100% (4/4), done.        \n",
		"Receiving objects:  50% (2/4), 1.00 MiB | 1.00 MiB/s\r",
		"Receiving objects: 100% (4/4), 2.00 MiB | 1.00 MiB/s, done.\n",
		"Updating files:  50% (1/2)\r",
		"Updating files: 100% (2/2), done.\n",
	} {
		clock = clock.Add(time.Second)
		tr.Write([]byte(l))
	}
	if want := []int{10, 52, 80, 92, 94}; !slices.Equal(got, want) {
		t.Fatalf("percentages %v, want %v", got, want)
	}
}
