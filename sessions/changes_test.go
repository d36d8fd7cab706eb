package sessions

import (
	"context"
	"testing"
	"time"
)

// nextChange waits for a change and returns the changed sessions.
func nextChange(t *testing.T, c *Changes) []*Session {
	t.Helper()
	select {
	case <-c.C():
		return c.Take()
	case <-time.After(10 * time.Second):
		t.Fatal("no change reported")
		return nil
	}
}

func TestChangesReportWhatUsersSee(t *testing.T) {
	e := newTestEnv(t, Config{})
	ch := e.m.WatchChanges()
	defer ch.Close()

	s := e.create(0)
	if got := nextChange(t, ch); len(got) != 1 || got[0] != s {
		t.Fatalf("start: %v", got)
	}
	a := attach(t, s, AttachOptions{LastSeq: -1, Cols: 100, Rows: 30})
	if got := nextChange(t, ch); len(got) != 1 || got[0] != s || s.Info().Attached != 1 {
		t.Fatalf("attach: %v, attached %d", got, s.Info().Attached)
	}
	if err := a.Resize(90, 20); err != nil {
		t.Fatal(err)
	}
	if got := nextChange(t, ch); len(got) != 1 || s.Info().Cols != 90 {
		t.Fatalf("resize: %v, cols %d", got, s.Info().Cols)
	}
	if err := s.Rename(context.Background(), "build"); err != nil {
		t.Fatal(err)
	}
	// Several changes before a read come out once.
	a.Close()
	if got := nextChange(t, ch); len(got) != 1 || s.Info().Name != "build" || s.Info().Attached != 0 {
		t.Fatalf("rename and detach: %v %+v", got, s.Info())
	}
	e.m.Kill(e.user.ID, s.ID())
	waitDone(t, s)
	for {
		nextChange(t, ch)
		if _, err := e.m.Get(e.user.ID, s.ID()); err != nil {
			break // ended: reported once the session is gone
		}
	}

	// A closed watcher hears nothing more.
	ch.Close()
	e.create(1)
	select {
	case <-ch.C():
		if got := ch.Take(); len(got) != 0 {
			t.Fatalf("closed watcher got %v", got)
		}
	default:
	}
}
