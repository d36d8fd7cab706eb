package sessions

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/codeterm/codeterm/audit"
	"github.com/codeterm/codeterm/store"
)

// ErrNoRecording: recording is not available on this server
// (Config.RecordDir is empty). Wire code RECORDING_UNAVAILABLE.
var ErrNoRecording = errors.New("recording is not enabled on this server")

// Recording reports whether the session's output is being recorded now.
func (s *Session) Recording() bool { return s.rec != nil && s.rec.on.Load() }

// SetRecording switches the recording of one of by's sessions on or off.
// Everyone attached is told through the change events (Recording).
func (m *Manager) SetRecording(by Who, id string, on bool) error {
	s, err := m.Get(by.UserID, id)
	if err != nil {
		return err
	}
	if s.rec == nil {
		return fmt.Errorf("record session %s: %w", id, ErrNoRecording)
	}
	if err := s.rec.setOn(on); err != nil {
		return fmt.Errorf("record session %s: %w", id, err)
	}
	ev := "record-stop"
	if on {
		ev = "record-start"
	}
	m.record(audit.Event{Event: ev, Session: s.id, Workspace: s.workspaceID, Role: string(RoleOwner)}, by)
	m.changed(s)
	s.tellRecording()
	return nil
}

// tellRecording wakes the clients that show recording changes in their
// stream (AttachOptions.RecordingNotices): their Next sends the news.
func (s *Session) tellRecording() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.atts {
		if a.recNotices {
			a.wake()
		}
	}
}

// RecordingFile returns the path of a session's recording for userID: its
// owner, or a user it is (still) shared with. The session may have ended.
// Anything else, a missing recording included, is ErrNotFound.
func (m *Manager) RecordingFile(ctx context.Context, userID, id string) (string, error) {
	notFound := fmt.Errorf("recording of session %q: %w", id, ErrNotFound)
	if m.cfg.RecordDir == "" {
		return "", notFound
	}
	if !m.mayReplay(ctx, userID, id) {
		return "", notFound
	}
	path := filepath.Join(m.cfg.RecordDir, safeName(id)+".cast")
	if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
		return "", notFound
	}
	return path, nil
}

func (m *Manager) mayReplay(ctx context.Context, userID, id string) bool {
	if m.st == nil {
		_, _, err := m.Join(ctx, userID, id)
		return err == nil
	}
	rec, err := m.st.Session(ctx, id)
	if err != nil {
		return false
	}
	if rec.UserID == userID {
		return true
	}
	sh, err := m.st.Share(ctx, id, userID)
	return err == nil && sh.Live(time.Now())
}

// Recordings lists the recordings in dir with their sessions' metadata
// (nil when the store no longer knows the session), for the CLI.
func Recordings(ctx context.Context, st *store.Store, dir string) ([]RecordingInfo, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list recordings: %w", err)
	}
	var out []RecordingInfo
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".cast")
		if !ok || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		ri := RecordingInfo{SessionID: id, Path: filepath.Join(dir, e.Name()), Size: fi.Size(), Modified: fi.ModTime()}
		if rec, err := st.Session(ctx, id); err == nil {
			ri.Session = rec
		}
		out = append(out, ri)
	}
	return out, nil
}

// RecordingInfo is one recording file.
type RecordingInfo struct {
	SessionID string
	Path      string
	Size      int64
	Modified  time.Time
	Session   *store.Session
}
