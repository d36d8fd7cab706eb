package sessions

import (
	"time"

	"github.com/codeterm/codeterm/audit"
)

// SetAudit sends the core's audit events (attach, detach with the bytes
// typed, share, unshare, kill) to l. Call it before the first session.
func (m *Manager) SetAudit(l *audit.Log) { m.auditLog = l }

// record writes an audit event of w's.
func (m *Manager) record(e audit.Event, w Who) {
	m.auditLog.Record(withWho(e, w))
}

func withWho(e audit.Event, w Who) audit.Event {
	e.User, e.UserID, e.Addr, e.Via = w.User, w.UserID, w.Addr, w.Via
	return e
}

func timeString(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// KillAs is Kill by w, recorded in the audit log.
func (m *Manager) KillAs(w Who, id string) error {
	s, err := m.Get(w.UserID, id)
	if err != nil {
		return err
	}
	m.record(audit.Event{Event: "kill", Session: s.id, Workspace: s.workspaceID, Role: string(RoleOwner)}, w)
	s.Kill()
	return nil
}
