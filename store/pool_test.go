package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// dbDescriptors counts this process's descriptors open on file itself (not its
// -wal or -shm): one per SQLite connection.
func dbDescriptors(t testing.TB, file string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	n := 0
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err == nil && target == file {
			n++
		}
	}
	return n
}

// burst runs n concurrent reads and writes, each held open a little (a row
// scan in progress) so that they overlap; it returns the most descriptors on
// file seen while they ran.
func burst(t testing.TB, s *Store, file string, n int) int {
	t.Helper()
	ctx := context.Background()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		peak int
		errs = make(chan error, n)
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%10 == 0 {
				if _, err := s.CreateUser(ctx, fmt.Sprintf("u%d", i)); err != nil && !strings.Contains(err.Error(), "exists") {
					errs <- err
				}
			}
			rows, err := s.db.QueryContext(ctx, `SELECT name FROM users`)
			if err != nil {
				errs <- err
				return
			}
			defer rows.Close()
			// Measured while this connection is still in use.
			d := dbDescriptors(t, file)
			mu.Lock()
			peak = max(peak, d)
			mu.Unlock()
			for rows.Next() {
			}
			if err := rows.Err(); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return peak
}

// 200 concurrent queries queue for the pool's connections instead of each
// opening the database file.
func TestPoolBoundsDescriptors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "codeterm.db")
	s := open(t, file)
	defer s.Close()
	before := dbDescriptors(t, file)
	during := burst(t, s, file, 200)
	after := dbDescriptors(t, file)
	t.Logf("descriptors on the database: before %d, during %d, after %d (MaxConns %d)", before, during, after, MaxConns)
	if during > MaxConns || after > MaxConns {
		t.Fatalf("the burst opened %d connections (%d left open), want at most %d", during, after, MaxConns)
	}
	if during == 0 {
		t.Fatalf("no descriptor on %s seen: the count is wrong", file)
	}
}

// BenchmarkQueryBurst is the latency of one query of a 200-wide burst, with the
// bounded pool and with no bound (the store before the pool), one process.
func BenchmarkQueryBurst(b *testing.B) {
	for _, bc := range []struct {
		name  string
		conns int
	}{{"unbounded", 0}, {"bounded", MaxConns}} {
		b.Run(bc.name, func(b *testing.B) {
			file := filepath.Join(b.TempDir(), "codeterm.db")
			s, err := Open(context.Background(), file)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			s.setMaxConns(bc.conns)
			ctx := context.Background()
			for i := range 20 {
				if _, err := s.CreateUser(ctx, fmt.Sprintf("u%d", i)); err != nil {
					b.Fatal(err)
				}
			}
			b.SetParallelism(100) // 200 goroutines on 2 cores
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.UserByName(ctx, "u7"); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(dbDescriptors(b, file)), "fds")
		})
	}
}

// BenchmarkCreateQueries is what the store does for one session created over
// SSH, one at a time: the user and their keys (the access check), the
// workspace by name, and the session's row.
func BenchmarkCreateQueries(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(b.TempDir(), "codeterm.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	u, err := s.CreateUser(ctx, "alice")
	if err != nil {
		b.Fatal(err)
	}
	w := &Workspace{UserID: u.ID, Name: "demo", LocalPath: b.TempDir()}
	if err := s.CreateWorkspace(ctx, w); err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		if _, err := s.UserByID(ctx, u.ID); err != nil {
			b.Fatal(err)
		}
		if _, err := s.SSHKeys(ctx, u.ID); err != nil {
			b.Fatal(err)
		}
		if _, err := s.WorkspaceByName(ctx, u.ID, "demo"); err != nil {
			b.Fatal(err)
		}
		i++
		now := time.Now()
		if err := s.PutSession(ctx, &Session{ID: fmt.Sprintf("s%d", i), WorkspaceID: w.ID, UserID: u.ID, Shell: "bash",
			Cols: 80, Rows: 24, CreatedAt: now, LastActivity: now, Status: SessionActive}); err != nil {
			b.Fatal(err)
		}
	}
}
