package files

import (
	"context"
	"errors"
	"io/fs"
	"syscall"

	"github.com/codeterm/codeterm/workspaces"
)

// Sentinel errors. Every error a Tree or an Upload returns that a client can
// act on wraps one of these; Code turns it into the wire code.
var (
	ErrInvalidPath = errors.New("invalid path")
	ErrNotFound    = errors.New("file not found")
	ErrExists      = errors.New("file already exists")
	ErrNotFile     = errors.New("not a regular file")
	ErrNotDir      = errors.New("not a directory")
	ErrNotEmpty    = errors.New("directory not empty")
	ErrConflict    = errors.New("file changed since it was read")
	ErrTooLarge    = errors.New("file too large")
	ErrPermission  = errors.New("permission denied")
	ErrUpload      = errors.New("upload not found")
	ErrOffset      = errors.New("chunk out of order")
	ErrWindow      = errors.New("too many chunks in flight")
	ErrChecksum    = errors.New("checksum mismatch")
	ErrLimit       = errors.New("limit exceeded")
)

var codes = []struct {
	err  error
	code string
}{
	{ErrInvalidPath, "INVALID_PATH"},
	{ErrNotFound, "FILE_NOT_FOUND"},
	{ErrExists, "FILE_EXISTS"},
	{ErrNotFile, "NOT_A_FILE"},
	{ErrNotDir, "NOT_A_DIRECTORY"},
	{ErrNotEmpty, "DIRECTORY_NOT_EMPTY"},
	{ErrConflict, "FILE_CONFLICT"},
	{ErrTooLarge, "FILE_TOO_LARGE"},
	{ErrPermission, "PERMISSION_DENIED"},
	{ErrUpload, "UPLOAD_NOT_FOUND"},
	{ErrOffset, "UPLOAD_OFFSET"},
	{ErrWindow, "UPLOAD_WINDOW_FULL"},
	{ErrChecksum, "CHECKSUM_MISMATCH"},
	{ErrLimit, "LIMIT_EXCEEDED"},
	{workspaces.ErrNotFound, "WORKSPACE_NOT_FOUND"},
}

// Code maps an error from this package to the browser protocol's error
// code: one of the codes above, WORKSPACE_NOT_FOUND, or INTERNAL_ERROR for
// anything else; nil is "".
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

// classify wraps an error from the file system in the sentinel a client
// understands, keeping the original for logs. An escape attempt that
// os.Root refuses ("path escapes from parent") is an invalid path.
func classify(op, name string, err error) error {
	if err == nil {
		return nil
	}
	var kind error
	switch {
	case errors.Is(err, fs.ErrNotExist):
		kind = ErrNotFound
	case errors.Is(err, syscall.ENOTEMPTY): // before ErrExist, which it also matches
		kind = ErrNotEmpty
	case errors.Is(err, fs.ErrExist):
		kind = ErrExists
	case errors.Is(err, fs.ErrPermission):
		kind = ErrPermission
	case errors.Is(err, syscall.ENOTDIR):
		kind = ErrNotDir
	case errors.Is(err, syscall.EISDIR):
		kind = ErrNotFile
	case errors.Is(err, syscall.ELOOP), errors.Is(err, syscall.EXDEV), isEscape(err):
		kind = ErrInvalidPath
	case errors.Is(err, syscall.ENXIO):
		kind = ErrNotFile // a FIFO with no reader, a device that is not there
	default:
		return &fs.PathError{Op: op, Path: name, Err: err}
	}
	return &opError{op: op, path: name, kind: kind, err: err}
}

// isEscape recognises os.Root's refusal of a path leading outside it; the
// error has no exported sentinel.
func isEscape(err error) bool {
	var pe *fs.PathError
	return errors.As(err, &pe) && pe.Err != nil && pe.Err.Error() == "path escapes from parent"
}

type opError struct {
	op, path string
	kind     error
	err      error
}

func (e *opError) Error() string   { return e.op + " " + e.path + ": " + e.kind.Error() }
func (e *opError) Unwrap() []error { return []error{e.kind, e.err} }
