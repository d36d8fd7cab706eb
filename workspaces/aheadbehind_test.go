package workspaces

import (
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
)

// Commits made in the same second share a timestamp; the count must not
// depend on the order the walk takes them in.
func TestAheadBehindSameTimestamp(t *testing.T) {
	st := memory.NewStorage()
	when := time.Date(2026, 11, 21, 22, 0, 0, 0, time.UTC)
	commit := func(msg string, parents ...plumbing.Hash) plumbing.Hash {
		sig := object.Signature{Name: "t", Email: "t@t", When: when}
		c := &object.Commit{Author: sig, Committer: sig, Message: msg, TreeHash: plumbing.ZeroHash, ParentHashes: parents}
		obj := st.NewEncodedObject()
		if err := c.Encode(obj); err != nil {
			t.Fatal(err)
		}
		h, err := st.SetEncodedObject(obj)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	// c0 ← c1 ← c2 (the remote) ← c3 ← c4 (local), and a side branch off c1.
	c0 := commit("c0")
	c1 := commit("c1", c0)
	c2 := commit("c2", c1)
	c3 := commit("c3", c2)
	c4 := commit("c4", c3)
	side := commit("side", c1)
	cases := []struct {
		name          string
		a, b          plumbing.Hash
		ahead, behind int
	}{
		{"local ahead", c4, c2, 2, 0},
		{"local behind", c2, c4, 0, 2},
		{"diverged", c4, side, 3, 1},
		{"same", c3, c3, 0, 0},
	}
	for _, tc := range cases {
		ahead, behind, err := aheadBehind(st, tc.a, tc.b)
		if err != nil || ahead != tc.ahead || behind != tc.behind {
			t.Errorf("%s: ahead %d behind %d (%v), want %d and %d", tc.name, ahead, behind, err, tc.ahead, tc.behind)
		}
	}
}
