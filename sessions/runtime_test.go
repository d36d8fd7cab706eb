package sessions

import (
	"context"
	"errors"
	"sync"
	"testing"
)

// countingRuntime starts programs locally and remembers what it was asked.
type countingRuntime struct {
	mu    sync.Mutex
	specs []ProcessSpec
	fail  error
}

func (r *countingRuntime) Start(ctx context.Context, spec ProcessSpec) (*Started, error) {
	r.mu.Lock()
	r.specs = append(r.specs, spec)
	r.mu.Unlock()
	if r.fail != nil {
		return nil, r.fail
	}
	return LocalRuntime{}.Start(ctx, spec)
}

// Sessions start through the configured Runtime, and the core runs on
// what it returns as on a local PTY.
func TestRuntimeStartsSessions(t *testing.T) {
	rt := &countingRuntime{}
	e := newTestEnv(t, Config{Runtime: rt})
	s := e.create(0)
	c := collect(t, attach(t, s, AttachOptions{LastSeq: 0}))
	input(t, c.a, "echo through-the-runt\"\"ime\n")
	c.waitFor("through-the-runtime")
	rt.mu.Lock()
	specs := append([]ProcessSpec(nil), rt.specs...)
	rt.mu.Unlock()
	if len(specs) != 1 || specs[0].Path == "" || specs[0].Dir != e.ws[0].LocalPath || specs[0].Cols == 0 {
		t.Fatalf("runtime asked for %+v", specs)
	}

	rt.fail = errors.New("no node for it")
	if _, err := e.m.Create(context.Background(), SpawnOptions{UserID: e.user.ID, WorkspaceID: e.ws[1].ID, Dir: e.ws[1].LocalPath}); !errors.Is(err, ErrSpawn) || !errors.Is(err, rt.fail) {
		t.Fatalf("a runtime's failure: %v", err)
	}
}
