package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Workspace is a git checkout that belongs to one user.
type Workspace struct {
	ID           string
	UserID       string
	Name         string
	RepoURL      string // credentials already stripped
	Branch       string
	LocalPath    string
	CreatedAt    time.Time
	LastActivity time.Time
}

// CreateWorkspace records a workspace; ErrExists if the user already has the name.
func (s *Store) CreateWorkspace(ctx context.Context, w *Workspace) error {
	if w.ID == "" {
		w.ID = NewID()
	}
	now := time.Now().UTC()
	w.CreatedAt, w.LastActivity = now, now
	_, err := s.db.ExecContext(ctx, `INSERT INTO workspaces(id, user_id, name, repo_url, branch, local_path, created_at, last_activity)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, w.ID, w.UserID, w.Name, w.RepoURL, w.Branch, w.LocalPath, millis(now), millis(now))
	if isUnique(err) {
		return fmt.Errorf("workspace %q: %w", w.Name, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("create workspace %q: %w", w.Name, err)
	}
	return nil
}

const workspaceCols = `id, user_id, name, repo_url, branch, local_path, created_at, last_activity`

func scanWorkspace(row interface{ Scan(...any) error }) (*Workspace, error) {
	var w Workspace
	var created, last int64
	if err := row.Scan(&w.ID, &w.UserID, &w.Name, &w.RepoURL, &w.Branch, &w.LocalPath, &created, &last); err != nil {
		return nil, err
	}
	w.CreatedAt, w.LastActivity = fromMillis(created), fromMillis(last)
	return &w, nil
}

// Workspace finds a workspace by id, only among the user's own: another
// user's workspace is reported exactly like a missing one.
func (s *Store) Workspace(ctx context.Context, userID, id string) (*Workspace, error) {
	return s.workspaceWhere(ctx, "id "+id, `user_id = ? AND id = ?`, userID, id)
}

// WorkspaceByID finds a workspace by id whoever owns it (for the server's
// housekeeping; requests go through Workspace).
func (s *Store) WorkspaceByID(ctx context.Context, id string) (*Workspace, error) {
	return s.workspaceWhere(ctx, "id "+id, `id = ?`, id)
}

// WorkspaceByName finds one of the user's workspaces by name.
func (s *Store) WorkspaceByName(ctx context.Context, userID, name string) (*Workspace, error) {
	return s.workspaceWhere(ctx, fmt.Sprintf("%q", name), `user_id = ? AND name = ?`, userID, name)
}

func (s *Store) workspaceWhere(ctx context.Context, what, cond string, args ...any) (*Workspace, error) {
	w, err := scanWorkspace(s.queryRow(ctx, `SELECT `+workspaceCols+` FROM workspaces WHERE `+cond, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("workspace %s: %w", what, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("workspace %s: %w", what, err)
	}
	return w, nil
}

// Workspaces lists a user's workspaces by name; userID "" lists everyone's.
func (s *Store) Workspaces(ctx context.Context, userID string) ([]*Workspace, error) {
	q := `SELECT ` + workspaceCols + ` FROM workspaces`
	var args []any
	if userID != "" {
		q += ` WHERE user_id = ?`
		args = append(args, userID)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY name, user_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list workspaces: %w", err)
	}
	defer rows.Close()
	var out []*Workspace
	for rows.Next() {
		w, err := scanWorkspace(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// DeleteWorkspace removes a workspace row (and its session rows).
func (s *Store) DeleteWorkspace(ctx context.Context, userID, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM workspaces WHERE user_id = ? AND id = ?`, userID, id)
	return affected(res, err, "delete workspace "+id)
}

// TouchWorkspace records activity.
func (s *Store) TouchWorkspace(ctx context.Context, id string, t time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE workspaces SET last_activity = ? WHERE id = ?`, millis(t), id)
	return err
}
