// Package store persists codeterm's state in SQLite (modernc.org/sqlite, no cgo).
//
// The database runs in WAL mode with a busy timeout so that a running server and
// the command line can use it at the same time. A Store keeps at most MaxConns
// SQLite connections: a burst of queries queues for one instead of opening a
// connection (and its descriptors) per query.
package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// ErrNotFound is returned when a row does not exist.
var ErrNotFound = errors.New("not found")

// ErrExists is returned when a unique name or key is already taken.
var ErrExists = errors.New("already exists")

//go:embed migrations/*.sql
var migrationFiles embed.FS

// MaxConns bounds the SQLite connections a Store holds. WAL lets readers run
// beside the one writer (writes take the lock up front, _txlock=immediate, and
// wait out each other in busy_timeout), so a few connections serve a burst;
// more only add descriptors and page caches.
const MaxConns = 4

// idleConnLife closes connections a burst opened once it is over, so the
// descriptors go back to what a quiet server holds.
const idleConnLife = 30 * time.Second

// Store is a handle on the database. It is safe for concurrent use.
type Store struct {
	db *sql.DB

	// stmts holds the statements of the hot paths (a session created, a
	// channel opened), prepared once: parsing the SQL again is a good part
	// of a short query's time. query text → *sql.Stmt.
	stmts sync.Map
}

// Open opens (creating if needed) the database at path and applies pending migrations.
// The file is made mode 0600 (SQLite gives its -wal and -shm files the same
// mode): it holds login-code hashes and users' encrypted GitHub tokens.
func Open(ctx context.Context, file string) (*Store, error) {
	f, err := os.OpenFile(file, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", file, err)
	}
	err = f.Chmod(0o600)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", file, err)
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+file+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", file, err)
	}
	s := &Store{db: db}
	s.setMaxConns(MaxConns)
	db.SetConnMaxIdleTime(idleConnLife)
	// Several processes may open a new database at once (the server and
	// the CLI): while one of them switches it to WAL, SQLite answers the
	// others SQLITE_BUSY at once, without waiting for the busy timeout.
	// Migrations are idempotent, so those try again.
	for try := 0; ; try++ {
		err := s.migrate(ctx)
		if err == nil {
			break
		}
		if try < 50 && strings.Contains(err.Error(), "SQLITE_BUSY") {
			select {
			case <-time.After(time.Duration(10+try*5) * time.Millisecond):
				continue
			case <-ctx.Done():
			}
		}
		db.Close()
		return nil, fmt.Errorf("migrate database %s: %w", file, err)
	}
	return s, nil
}

// setMaxConns bounds the pool; database/sql queues callers for a free
// connection (honouring their context) rather than opening another. n <= 0
// means no bound, which only the benchmark uses, as the before.
func (s *Store) setMaxConns(n int) {
	s.db.SetMaxOpenConns(n)
	s.db.SetMaxIdleConns(max(n, 2))
}

// Close closes the database, checkpointing the WAL.
func (s *Store) Close() error {
	s.stmts.Range(func(_, v any) bool {
		v.(*sql.Stmt).Close()
		return true
	})
	return s.db.Close()
}

// prepared returns query as a statement prepared once for the Store's life
// (database/sql prepares it again on each connection that runs it).
func (s *Store) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := s.stmts.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := s.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := s.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// queryRow is QueryRowContext on the prepared query.
func (s *Store) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := s.prepared(ctx, query)
	if err != nil {
		// The same error again, from the Row's Scan.
		return s.db.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// SchemaVersion reports the highest applied migration.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return err
	}
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil {
			return fmt.Errorf("migration %s: name must start with a number", base)
		}
		body, err := migrationFiles.ReadFile(name)
		if err != nil {
			return err
		}
		if err := s.apply(ctx, version, string(body)); err != nil {
			return fmt.Errorf("migration %s: %w", base, err)
		}
	}
	return nil
}

// apply runs one migration in a transaction unless it is already recorded; the
// immediate transaction lock makes concurrent starters apply it only once.
func (s *Store) apply(ctx context.Context, version int, body string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, body); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations(version, applied_at) VALUES (?, ?)`, version, time.Now().Unix()); err != nil {
		return err
	}
	return tx.Commit()
}

// NewID returns a random identifier of 127 bits, URL-safe, that starts
// with a letter: one starting with "-" would be taken for an option by
// every command line it is given to (codeterm share ID, ssh host @ID).
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // the kernel's RNG does not fail
	}
	b[0] &= 0x7f // the first character is then one of A-Z, a-f
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func millis(t time.Time) int64 { return t.UnixMilli() }

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func isUnique(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// Snapshot writes a consistent copy of the database to file, which must not
// exist, while others keep using it (VACUUM INTO reads in one transaction).
func (s *Store) Snapshot(ctx context.Context, file string) error {
	if _, err := s.db.ExecContext(ctx, `VACUUM INTO ?`, file); err != nil {
		return fmt.Errorf("snapshot database to %s: %w", file, err)
	}
	return nil
}
