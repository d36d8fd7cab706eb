package sessions

import "errors"

// Errors the front-ends map to wire codes. They are wrapped with context;
// test with errors.Is.
var (
	// ErrNotFound: no such session, or it belongs to another user (the two
	// are indistinguishable on purpose). Wire code SESSION_NOT_FOUND.
	ErrNotFound = errors.New("session not found")
	// ErrLimitExceeded: too many sessions for the user or the workspace.
	// Wire code LIMIT_EXCEEDED.
	ErrLimitExceeded = errors.New("session limit exceeded")
	// ErrSpawn wraps the reason a shell could not be started (including
	// ErrShellNotAllowed). Wire code SPAWN_FAILED.
	ErrSpawn = errors.New("spawn failed")
	// ErrInvalidSize: columns or rows outside 1..1000.
	ErrInvalidSize = errors.New("invalid terminal size")
	// ErrInputTooLarge: one input write above Config.MaxInputBytes.
	ErrInputTooLarge = errors.New("input too large")
	// ErrAmbiguous: an id prefix matches more than one session.
	ErrAmbiguous = errors.New("ambiguous session id")
	// ErrClosed: the attachment was closed, the session has ended, or the
	// manager is shutting down.
	ErrClosed = errors.New("session closed")
	// ErrIdle: Next waited AttachOptions.LeaveAfter with nothing to
	// return; its reader leaves, and AttachOptions.Wake starts the next.
	ErrIdle = errors.New("attachment idle")
)
