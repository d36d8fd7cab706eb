package audit

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readEvents(t *testing.T, path string) []Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []Event
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

// TestRotation: the log is private, one JSON object a line, and rotated by
// size keeping the newest files.
func TestRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	os.WriteFile(path, nil, 0o644) // left readable by someone else
	l, err := Open(path, 400, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		n := int64(i)
		l.Record(Event{Event: "detach", User: "alice", Session: strings.Repeat("s", 20), Typed: &n})
	}
	l.Close()
	l.Record(Event{Event: "attach"}) // after Close: dropped, no panic
	var nil_ *Log
	nil_.Record(Event{Event: "attach"})

	for _, p := range []string{path, path + ".1", path + ".2"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v", p, fi.Mode().Perm())
		}
		if fi.Size() > 400 {
			t.Errorf("%s is %d bytes, over the limit", p, fi.Size())
		}
	}
	if _, err := os.Stat(path + ".3"); !os.IsNotExist(err) {
		t.Errorf("a third old file was kept: %v", err)
	}
	// The newest events are in the current file, in order, after .1's.
	older, cur := readEvents(t, path+".1"), readEvents(t, path)
	all := append(older, cur...)
	last := all[len(all)-1]
	if last.Typed == nil || *last.Typed != 19 || last.Time.IsZero() {
		t.Fatalf("last event %+v", last)
	}
	for i := 1; i < len(all); i++ {
		if *all[i].Typed != *all[i-1].Typed+1 {
			t.Fatalf("events out of order: %d after %d", *all[i].Typed, *all[i-1].Typed)
		}
	}
}
