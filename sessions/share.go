package sessions

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/codeterm/codeterm/audit"
	"github.com/codeterm/codeterm/store"
)

// Sharing errors. Wire code INVALID_FIELD (on role, or user).
var (
	ErrInvalidRole  = errors.New("role must be viewer or editor")
	ErrInvalidGuest = errors.New("invalid guest")
)

// Role is what a user may do in a session.
type Role string

// Roles. An owner may also kill, rename and share; an editor types into the
// owner's shell (which runs as the owner's account); a viewer only watches.
const (
	RoleOwner  Role = "owner"
	RoleEditor Role = "editor"
	RoleViewer Role = "viewer"
)

// ParseRole accepts the roles a session can be shared with.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleViewer, RoleEditor:
		return r, nil
	}
	return "", fmt.Errorf("role %q: %w", s, ErrInvalidRole)
}

// Who is the user behind an attachment, as the front-end knows them.
type Who struct {
	UserID string
	User   string // the user's name, shown to everyone attached
	Via    string // "ssh" or "browser"
	Addr   string // the client's address, for the audit log
}

// Attendee is one attachment of a session as every attached client sees
// it: who, in which role, through which front-end.
type Attendee struct {
	User string `json:"user"`
	Role Role   `json:"role"`
	Via  string `json:"via"`
}

// Share is a session shared with a guest.
type Share struct {
	SessionID string
	OwnerID   string
	GuestID   string
	Role      Role
	ExpiresAt time.Time // zero: never
}

// Shared is a live session shared with a guest.
type Shared struct {
	Session *Session
	Share
}

// sharing holds the manager's sharing state. The store is the truth when
// there is one (the CLI changes it from another process); without one the
// shares live in mem.
type sharing struct {
	mu  sync.Mutex
	mem map[shareKey]Share
	who map[*Attachment]attendance
}

type shareKey struct{ session, guest string }

type attendance struct {
	Who
	role Role
}

func (m *Manager) sharing() *sharing {
	m.shareOnce.Do(func() {
		m.shares = &sharing{mem: map[shareKey]Share{}, who: map[*Attachment]attendance{}}
	})
	return m.shares
}

// share looks up the share of a session with a guest; ok is false when
// there is none or it has expired.
func (m *Manager) share(ctx context.Context, sessionID, guestID string) (Share, bool) {
	now := time.Now()
	if m.st == nil {
		sh := m.sharing()
		sh.mu.Lock()
		r, ok := sh.mem[shareKey{sessionID, guestID}]
		sh.mu.Unlock()
		return r, ok && (r.ExpiresAt.IsZero() || now.Before(r.ExpiresAt))
	}
	r, err := m.st.Share(ctx, sessionID, guestID)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			m.log.Warn("share lookup", "session", sessionID, "err", err)
		}
		return Share{}, false
	}
	return fromStore(r), r.Live(now)
}

func fromStore(r *store.Share) Share {
	return Share{SessionID: r.SessionID, OwnerID: r.OwnerID, GuestID: r.GuestID, Role: Role(r.Role), ExpiresAt: r.ExpiresAt}
}

// Join returns a live session the user owns or that is shared with them,
// with their role in it. A session that is neither is reported exactly like
// a missing one, so a guest learns nothing of the owner's other sessions.
func (m *Manager) Join(ctx context.Context, userID, id string) (*Session, Role, error) {
	m.mu.Lock()
	s := m.sessions[id]
	m.mu.Unlock()
	if s != nil {
		if s.userID == userID {
			return s, RoleOwner, nil
		}
		if r, ok := m.share(ctx, id, userID); ok {
			return s, r.Role, nil
		}
	}
	return nil, "", fmt.Errorf("session %q: %w", id, ErrNotFound)
}

// AttachAs attaches w to s in the role w has there now: a viewer's
// attachment is read-only whatever opts says. The attachment is listed in
// Attendees and is closed when w's share ends or changes (see WatchShares).
func (m *Manager) AttachAs(ctx context.Context, s *Session, w Who, opts AttachOptions) (*Attachment, Role, error) {
	_, role, err := m.Join(ctx, w.UserID, s.id)
	if err != nil {
		return nil, "", err
	}
	if role == RoleViewer {
		opts.ReadOnly = true
	}
	sh := m.sharing()
	sh.mu.Lock()
	a, err := s.Attach(opts)
	if err == nil {
		sh.who[a] = attendance{Who: w, role: role}
	}
	sh.mu.Unlock()
	if err != nil {
		return nil, "", err
	}
	// A share removed while we attached is enforced now: the remover's
	// sweep may have run before the attachment was listed.
	if role != RoleOwner {
		if r, ok := m.share(ctx, s.id, w.UserID); !ok || r.Role != role {
			a.Close()
			return nil, "", fmt.Errorf("session %q: %w", s.id, ErrNotFound)
		}
	}
	m.record(audit.Event{Event: "attach", Session: s.id, Workspace: s.workspaceID, Role: string(role)}, w)
	m.changed(s) // the attendee list changed
	return a, role, nil
}

// forget drops a closed attachment from the attendee list and records the
// detach with the bytes it typed.
func (m *Manager) forget(a *Attachment) {
	sh := m.sharing()
	sh.mu.Lock()
	w, ok := sh.who[a]
	delete(sh.who, a)
	sh.mu.Unlock()
	if ok {
		typed := a.typed.Load()
		m.record(audit.Event{Event: "detach", Session: a.s.id, Workspace: a.s.workspaceID, Role: string(w.role), Typed: &typed}, w.Who)
	}
}

// Attendees lists who is attached to s, in order of attaching.
func (s *Session) Attendees() []Attendee {
	s.mu.Lock()
	atts := append([]*Attachment(nil), s.atts...)
	s.mu.Unlock()
	sh := s.m.sharing()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	out := make([]Attendee, 0, len(atts))
	for _, a := range atts {
		if w, ok := sh.who[a]; ok {
			out = append(out, Attendee{User: w.User, Role: w.role, Via: w.Via})
		}
	}
	return out
}

// Guests lists the ids of the users attached to s as guests.
func (s *Session) Guests() []string {
	sh := s.m.sharing()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for a, w := range sh.who {
		if a.s == s && w.role != RoleOwner && !seen[w.UserID] {
			seen[w.UserID] = true
			out = append(out, w.UserID)
		}
	}
	sort.Strings(out)
	return out
}

// ShareSession shares one of owner's live sessions with guest, or changes
// the role or expiry of an existing share (ttl 0: no expiry). A guest who
// is attached in another role is detached, to attach again in the new one.
func (m *Manager) ShareSession(ctx context.Context, by Who, id string, guest Who, role Role, ttl time.Duration) (Share, error) {
	ownerID, guestID := by.UserID, guest.UserID
	s, err := m.Get(ownerID, id)
	if err != nil {
		return Share{}, err
	}
	if _, err := ParseRole(string(role)); err != nil {
		return Share{}, err
	}
	if guestID == "" || guestID == ownerID {
		return Share{}, fmt.Errorf("share session %s with its owner: %w", id, ErrInvalidGuest)
	}
	if ttl < 0 {
		return Share{}, fmt.Errorf("share session %s: negative expiry: %w", id, ErrInvalidGuest)
	}
	r := Share{SessionID: s.id, OwnerID: ownerID, GuestID: guestID, Role: role}
	now := time.Now()
	if ttl > 0 {
		r.ExpiresAt = now.Add(ttl)
	}
	if m.st != nil {
		err = m.st.PutShare(ctx, &store.Share{SessionID: r.SessionID, OwnerID: ownerID, GuestID: guestID,
			Role: string(role), CreatedAt: now, ExpiresAt: r.ExpiresAt})
		if err != nil {
			return Share{}, err
		}
	} else {
		sh := m.sharing()
		sh.mu.Lock()
		sh.mem[shareKey{s.id, guestID}] = r
		sh.mu.Unlock()
	}
	m.record(audit.Event{Event: "share", Session: s.id, Workspace: s.workspaceID, Guest: guest.User, Role: string(role),
		ExpiresAt: timeString(r.ExpiresAt)}, by)
	m.EnforceShares(ctx)
	return r, nil
}

// UnshareSession ends a share: the guest is detached at once.
func (m *Manager) UnshareSession(ctx context.Context, by Who, id string, guest Who) error {
	ownerID, guestID := by.UserID, guest.UserID
	s, err := m.Get(ownerID, id)
	if err != nil {
		return err
	}
	if m.st != nil {
		if err := m.st.DeleteShare(ctx, s.id, guestID); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("session %s is not shared with that user: %w", s.id, ErrInvalidGuest)
			}
			return err
		}
	} else {
		sh := m.sharing()
		sh.mu.Lock()
		_, ok := sh.mem[shareKey{s.id, guestID}]
		delete(sh.mem, shareKey{s.id, guestID})
		sh.mu.Unlock()
		if !ok {
			return fmt.Errorf("session %s is not shared with that user: %w", s.id, ErrInvalidGuest)
		}
	}
	m.record(audit.Event{Event: "unshare", Session: s.id, Workspace: s.workspaceID, Guest: guest.User}, by)
	m.EnforceShares(ctx)
	return nil
}

// Shares lists who one of owner's sessions is shared with (expired
// shares included, with their expiry).
func (m *Manager) Shares(ctx context.Context, ownerID, id string) ([]Share, error) {
	s, err := m.Get(ownerID, id)
	if err != nil {
		return nil, err
	}
	all, err := m.allShares(ctx)
	if err != nil {
		return nil, err
	}
	var out []Share
	for _, r := range all {
		if r.SessionID == s.id {
			out = append(out, r)
		}
	}
	return out, nil
}

// SharedWith lists the live sessions shared with guest and not expired,
// oldest first.
func (m *Manager) SharedWith(ctx context.Context, guestID string) ([]Shared, error) {
	var all []Share
	if m.st != nil {
		// Indexed by guest: this runs on every session diff of a
		// connected user.
		list, err := m.st.SharesWith(ctx, guestID)
		if err != nil {
			return nil, err
		}
		for _, r := range list {
			all = append(all, fromStore(r))
		}
	} else {
		var err error
		if all, err = m.allShares(ctx); err != nil {
			return nil, err
		}
	}
	now := time.Now()
	var out []Shared
	m.mu.Lock()
	for _, r := range all {
		s := m.sessions[r.SessionID]
		if r.GuestID == guestID && s != nil && s.userID == r.OwnerID && live(r, now) {
			out = append(out, Shared{Session: s, Share: r})
		}
	}
	m.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Session.order < out[j].Session.order })
	return out, nil
}

func live(r Share, now time.Time) bool { return r.ExpiresAt.IsZero() || now.Before(r.ExpiresAt) }

func (m *Manager) allShares(ctx context.Context) ([]Share, error) {
	if m.st == nil {
		sh := m.sharing()
		sh.mu.Lock()
		defer sh.mu.Unlock()
		out := make([]Share, 0, len(sh.mem))
		for _, r := range sh.mem {
			out = append(out, r)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].GuestID < out[j].GuestID })
		return out, nil
	}
	list, err := m.st.AllShares(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Share, 0, len(list))
	for _, r := range list {
		out = append(out, fromStore(r))
	}
	return out, nil
}

// EnforceShares detaches every guest whose share has ended, expired or
// changed role. It runs after each change here; a front-end runs it
// periodically for changes made by another process (the CLI) and expiries.
func (m *Manager) EnforceShares(ctx context.Context) {
	all, err := m.allShares(ctx)
	if err != nil {
		m.log.Warn("check shares", "err", err)
		return
	}
	now := time.Now()
	valid := make(map[shareKey]Role, len(all))
	for _, r := range all {
		if live(r, now) {
			valid[shareKey{r.SessionID, r.GuestID}] = r.Role
		}
	}
	sh := m.sharing()
	sh.mu.Lock()
	var revoked []*Attachment
	for a, w := range sh.who {
		if w.role == RoleOwner {
			continue
		}
		if role, ok := valid[shareKey{a.s.id, w.UserID}]; !ok || role != w.role {
			revoked = append(revoked, a)
		}
	}
	sh.mu.Unlock()
	for _, a := range revoked {
		m.log.Info("guest detached: share ended or changed", "session", a.s.id)
		a.Close()
	}
}

// ShareStored shares a session from outside the server process (the CLI):
// the share goes to the store, and the server applies it (a removal or a
// change within its next check). The session must be running and the guest
// must not be its owner.
func ShareStored(ctx context.Context, st *store.Store, al *audit.Log, by Who, sessionID string, guest Who, role Role, ttl time.Duration) (Share, error) {
	guestID := guest.UserID
	rec, err := st.Session(ctx, sessionID)
	if err != nil || rec.Status != store.SessionActive {
		return Share{}, fmt.Errorf("session %q: %w", sessionID, ErrNotFound)
	}
	if _, err := ParseRole(string(role)); err != nil {
		return Share{}, err
	}
	if guestID == rec.UserID || ttl < 0 {
		return Share{}, fmt.Errorf("share session %s: %w", sessionID, ErrInvalidGuest)
	}
	r := Share{SessionID: rec.ID, OwnerID: rec.UserID, GuestID: guestID, Role: role}
	now := time.Now()
	if ttl > 0 {
		r.ExpiresAt = now.Add(ttl)
	}
	err = st.PutShare(ctx, &store.Share{SessionID: r.SessionID, OwnerID: r.OwnerID, GuestID: guestID,
		Role: string(role), CreatedAt: now, ExpiresAt: r.ExpiresAt})
	if err != nil {
		return Share{}, err
	}
	al.Record(withWho(audit.Event{Event: "share", Session: rec.ID, Workspace: rec.WorkspaceID, Guest: guest.User,
		Role: string(role), ExpiresAt: timeString(r.ExpiresAt)}, by))
	return r, nil
}

// UnshareStored ends a share from outside the server process; the server
// detaches the guest at its next check.
func UnshareStored(ctx context.Context, st *store.Store, al *audit.Log, by Who, sessionID string, guest Who) error {
	notShared := fmt.Errorf("session %s is not shared with that user: %w", sessionID, ErrInvalidGuest)
	if _, err := st.Share(ctx, sessionID, guest.UserID); errors.Is(err, store.ErrNotFound) {
		return notShared
	} else if err != nil {
		return err
	}
	// Recorded first: the server may detach the guest (and record that)
	// as soon as the share is gone.
	al.Record(withWho(audit.Event{Event: "unshare", Session: sessionID, Guest: guest.User}, by))
	if err := st.DeleteShare(ctx, sessionID, guest.UserID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return notShared
		}
		return err
	}
	return nil
}
