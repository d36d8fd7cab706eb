package workspaces

import (
	"context"
	"errors"
)

// Sentinel errors. Every error returned by this package that the browser or
// the CLI may need to act on wraps exactly one of these, so callers test with
// errors.Is and translate with Code; the message around it carries the details
// (which workspace, which URL with credentials removed, what git said).
var (
	ErrInvalidName = errors.New("invalid workspace name")
	ErrInvalidURL  = errors.New("invalid repository URL")
	ErrExists      = errors.New("workspace already exists")
	ErrNotFound    = errors.New("workspace not found")
	ErrCloneFailed = errors.New("git clone failed")
	ErrDiverged    = errors.New("local and remote branches have diverged")
	ErrSyncFailed  = errors.New("git sync failed")
	ErrCancelled   = errors.New("operation cancelled")
)

var codes = []struct {
	err  error
	code string
}{
	// ErrCancelled first: a cancelled clone also wraps ErrCloneFailed's
	// context and the more specific answer wins.
	{ErrCancelled, "CANCELLED"},
	{ErrInvalidName, "INVALID_NAME"},
	{ErrInvalidURL, "INVALID_URL"},
	{ErrExists, "WORKSPACE_EXISTS"},
	{ErrNotFound, "WORKSPACE_NOT_FOUND"},
	{ErrDiverged, "GIT_DIVERGED"},
	{ErrCloneFailed, "GIT_CLONE_FAILED"},
	{ErrSyncFailed, "GIT_SYNC_FAILED"},
}

// Code maps an error from this package to the error code of the browser
// protocol (workspace-error.code): INVALID_NAME, INVALID_URL,
// WORKSPACE_EXISTS, WORKSPACE_NOT_FOUND, GIT_CLONE_FAILED, GIT_DIVERGED,
// GIT_SYNC_FAILED or CANCELLED. Anything else is INTERNAL_ERROR; nil is "".
func Code(err error) string {
	if err == nil {
		return ""
	}
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	if errors.Is(err, context.Canceled) {
		return "CANCELLED"
	}
	return "INTERNAL_ERROR"
}
