package webbridge

import (
	"errors"
	"fmt"
	"time"

	"github.com/codeterm/codeterm/sessions"
	"github.com/codeterm/codeterm/store"
	"github.com/codeterm/codeterm/workspaces"
)

// Wire error codes. They are part of the protocol: clients switch on them,
// so they never change meaning. workspaces.Code supplies the git ones
// (INVALID_NAME, INVALID_URL, WORKSPACE_EXISTS, GIT_CLONE_FAILED,
// GIT_DIVERGED, GIT_SYNC_FAILED, CANCELLED).
const (
	CodeSessionNotFound      = "SESSION_NOT_FOUND"
	CodeSessionEnded         = "SESSION_ENDED"
	CodeWorkspaceNotFound    = "WORKSPACE_NOT_FOUND"
	CodeSpawnFailed          = "SPAWN_FAILED"
	CodeLimitExceeded        = "LIMIT_EXCEEDED"
	CodeInvalidPayload       = "INVALID_PAYLOAD"
	CodeInputTooLarge        = "INPUT_TOO_LARGE"
	CodeInputBacklog         = "INPUT_BACKLOG"
	CodeRateLimited          = "RATE_LIMITED"
	CodeGitHubNotConfigured  = "GITHUB_NOT_CONFIGURED"
	CodeUnavailable          = "UNAVAILABLE"
	CodeInternal             = "INTERNAL_ERROR"
	CodeAuthFailed           = "AUTH_FAILED"
	CodeReadOnly             = "READ_ONLY"
	authFailedMessage        = "Authentication failed"
	workspaceNotFoundMessage = "Workspace not found"
)

// wireError is an error as the browser sees it: in an error event and in
// the {ok: false, error} acknowledgement.
type wireError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Details string `json:"details,omitempty"`
	// Field names the payload field at fault, for INVALID_PAYLOAD.
	Field string `json:"field,omitempty"`
}

func (e *wireError) Error() string { return e.Code + ": " + e.Message }

func invalidField(field, msg string) *wireError {
	return &wireError{Code: CodeInvalidPayload, Message: fmt.Sprintf("invalid payload: %s", msg), Field: field,
		Details: "field " + field}
}

// readOnly refuses input and resizes from a viewer.
func readOnly(id string) *wireError {
	return &wireError{Code: CodeReadOnly, Message: "This terminal is read-only",
		Details: fmt.Sprintf("attached to session %s as a viewer", id)}
}

func sessionNotFound(id string) *wireError {
	// The same words whether the session never existed, has ended or is
	// someone else's.
	return &wireError{Code: CodeSessionNotFound, Message: "Session not found", Details: fmt.Sprintf("session %s does not exist", id)}
}

func workspaceNotFound(id string) *wireError {
	return &wireError{Code: CodeWorkspaceNotFound, Message: workspaceNotFoundMessage, Details: fmt.Sprintf("workspace %s does not exist", id)}
}

// sessionError maps a session-core error to the wire. Internal errors are
// logged by the caller; their text never reaches the client.
func sessionError(id string, err error) *wireError {
	switch {
	case errors.Is(err, sessions.ErrNotFound):
		return sessionNotFound(id)
	case errors.Is(err, sessions.ErrLimitExceeded):
		return &wireError{Code: CodeLimitExceeded, Message: "Too many terminal sessions", Details: err.Error()}
	case errors.Is(err, sessions.ErrSpawn):
		return &wireError{Code: CodeSpawnFailed, Message: "Failed to spawn terminal process", Details: spawnDetails(err)}
	case errors.Is(err, sessions.ErrInvalidSize):
		return invalidField("cols", "cols and rows must be between 1 and 1000")
	case errors.Is(err, sessions.ErrInputTooLarge):
		return &wireError{Code: CodeInputTooLarge, Message: "Terminal input too large", Details: err.Error()}
	case errors.Is(err, sessions.ErrClosed):
		return &wireError{Code: CodeSessionEnded, Message: "Session has ended", Details: fmt.Sprintf("session %s has ended", id)}
	}
	return internalError()
}

// spawnDetails keeps what helps the user (a shell that is not allowed or not
// installed) and drops server paths from everything else.
func spawnDetails(err error) string {
	if errors.Is(err, sessions.ErrShellNotAllowed) {
		return "Shell not allowed or not installed (use bash, zsh, fish or sh)"
	}
	return "The shell could not be started"
}

// workspaceError maps a workspaces error to the wire.
func workspaceError(id string, err error) *wireError {
	if errors.Is(err, store.ErrNotFound) {
		return workspaceNotFound(id)
	}
	code := workspaces.Code(err)
	switch code {
	case CodeWorkspaceNotFound:
		return workspaceNotFound(id)
	case CodeInternal, "":
		return internalError()
	}
	return &wireError{Code: code, Message: workspaceMessages[code], Details: err.Error()}
}

var workspaceMessages = map[string]string{
	"INVALID_NAME":     "Invalid workspace name",
	"INVALID_URL":      "Invalid repository URL",
	"WORKSPACE_EXISTS": "A workspace with this name already exists",
	"GIT_CLONE_FAILED": "Repository clone failed",
	"GIT_DIVERGED":     "Local and remote branches have diverged",
	"GIT_SYNC_FAILED":  "Git sync failed",
	"CANCELLED":        "Operation cancelled",
}

func internalError() *wireError {
	return &wireError{Code: CodeInternal, Message: "Internal server error"}
}

// errorEvent is the payload of error, terminal-error and workspace-error.
type errorEvent struct {
	*wireError
	SessionID   string `json:"sessionId,omitempty"`
	WorkspaceID string `json:"workspaceId,omitempty"`
	Operation   string `json:"operation,omitempty"`
	// Event is the client event that failed.
	Event     string `json:"event,omitempty"`
	Timestamp string `json:"timestamp"`
}

// ackError is the acknowledgement of a failed event.
type ackError struct {
	OK    bool       `json:"ok"`
	Error *wireError `json:"error"`
}

func timestamp(t time.Time) string { return t.UTC().Format(jsTime) }

// jsTime is what JavaScript's Date.prototype.toISOString produces.
const jsTime = "2006-01-02T15:04:05.000Z07:00"
