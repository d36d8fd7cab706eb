package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Session status values.
const (
	SessionActive     = "active"
	SessionTerminated = "terminated"
)

// Session is the metadata of a terminal session; the live state is in memory.
type Session struct {
	ID           string
	WorkspaceID  string
	UserID       string
	Name         string
	Shell        string
	PID          int
	Cols, Rows   int
	CreatedAt    time.Time
	LastActivity time.Time
	Status       string
	ExitCode     *int
	Signal       string
}

// PutSession inserts or replaces a session's metadata.
func (s *Store) PutSession(ctx context.Context, r *Session) error {
	st, err := s.prepared(ctx, `INSERT INTO terminal_sessions
		(id, workspace_id, user_id, name, shell, pid, cols, rows, created_at, last_activity, status, exit_code, signal)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(id) DO UPDATE SET name=excluded.name, pid=excluded.pid, cols=excluded.cols, rows=excluded.rows,
		last_activity=excluded.last_activity, status=excluded.status, exit_code=excluded.exit_code, signal=excluded.signal`)
	if err != nil {
		return fmt.Errorf("save session %s: %w", r.ID, err)
	}
	_, err = st.ExecContext(ctx,
		r.ID, r.WorkspaceID, r.UserID, r.Name, r.Shell, r.PID, r.Cols, r.Rows, millis(r.CreatedAt), millis(r.LastActivity),
		r.Status, r.ExitCode, r.Signal)
	if err != nil {
		return fmt.Errorf("save session %s: %w", r.ID, err)
	}
	return nil
}

const sessionCols = `id, workspace_id, user_id, name, shell, pid, cols, rows, created_at, last_activity, status, exit_code, signal`

func scanSession(row interface{ Scan(...any) error }) (*Session, error) {
	var r Session
	var created, last int64
	var code sql.NullInt64
	if err := row.Scan(&r.ID, &r.WorkspaceID, &r.UserID, &r.Name, &r.Shell, &r.PID, &r.Cols, &r.Rows, &created, &last, &r.Status, &code, &r.Signal); err != nil {
		return nil, err
	}
	r.CreatedAt, r.LastActivity = fromMillis(created), fromMillis(last)
	if code.Valid {
		c := int(code.Int64)
		r.ExitCode = &c
	}
	return &r, nil
}

// Session reads one session's metadata.
func (s *Store) Session(ctx context.Context, id string) (*Session, error) {
	r, err := scanSession(s.db.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM terminal_sessions WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("session %s: %w", id, ErrNotFound)
	}
	return r, err
}

// SessionsOfWorkspace lists a workspace's sessions, oldest first.
func (s *Store) SessionsOfWorkspace(ctx context.Context, workspaceID string) ([]*Session, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+sessionCols+` FROM terminal_sessions WHERE workspace_id = ? ORDER BY created_at`, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	defer rows.Close()
	var out []*Session
	for rows.Next() {
		r, err := scanSession(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// MarkStaleSessions records as terminated every session still marked active:
// called at start, when no process from a previous run can still be attached.
func (s *Store) MarkStaleSessions(ctx context.Context) (int64, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE terminal_sessions SET status = ? WHERE status != ?`, SessionTerminated, SessionTerminated)
	if err != nil {
		return 0, fmt.Errorf("mark stale sessions: %w", err)
	}
	return res.RowsAffected()
}
