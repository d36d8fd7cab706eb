package webbridge

import (
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/codeterm/codeterm/files"
	"github.com/codeterm/codeterm/store"
)

func (s *Server) fileRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/workspaces/{id}/files/{path...}", s.authed(s.getFile))
	mux.HandleFunc("PUT /api/workspaces/{id}/files/{path...}", s.authed(s.putFile))
}

// fileHTTPError answers a files error with the status that fits its code.
func (s *Server) fileHTTPError(w http.ResponseWriter, id string, err error) {
	code := files.Code(err)
	status := http.StatusBadRequest
	msg := fileMessages[code]
	switch code {
	case CodeWorkspaceNotFound:
		status, msg = http.StatusNotFound, workspaceNotFoundMessage
	case "FILE_NOT_FOUND":
		status = http.StatusNotFound
	case "FILE_EXISTS", "FILE_CONFLICT":
		status = http.StatusConflict
	case "FILE_TOO_LARGE":
		status = http.StatusRequestEntityTooLarge
	case "PERMISSION_DENIED":
		status = http.StatusForbidden
	case "LIMIT_EXCEEDED":
		status = http.StatusTooManyRequests
	case CodeInternal:
		s.Log.Error("file request", "workspace", id, "err", err)
		status, msg = http.StatusInternalServerError, "Internal server error"
	}
	writeError(w, status, code, msg)
}

// getFile is GET /api/workspaces/{id}/files/{path}: the file's bytes,
// streamed, with Range, If-Modified-Since and HEAD handled by
// http.ServeContent. It is always served as an attachment of an opaque
// type: a workspace's HTML must never run as this origin's page.
func (s *Server) getFile(w http.ResponseWriter, r *http.Request, u *store.User) {
	id := r.PathValue("id")
	if s.Files == nil {
		writeError(w, http.StatusNotFound, CodeUnavailable, "File access is not available on this server")
		return
	}
	t, err := s.Files.Open(r.Context(), u, id)
	if err != nil {
		s.fileHTTPError(w, id, err)
		return
	}
	defer t.Close()
	f, fi, err := t.OpenRegular(r.PathValue("path"))
	if err != nil {
		s.fileHTTPError(w, id, err)
		return
	}
	defer f.Close()
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", "attachment; filename*=UTF-8''"+url.PathEscape(path.Base(r.PathValue("path"))))
	h.Set("Content-Security-Policy", "sandbox")
	h.Set("Cache-Control", "private, no-cache")
	http.ServeContent(w, r, "", fi.ModTime(), f)
}

// putFile is PUT /api/workspaces/{id}/files/{path}: the body replaces (or
// creates) the file atomically. Content-Length is required. With
// X-Base-Sha256 the write is refused (409 FILE_CONFLICT) if the file is no
// longer what the client read; with If-None-Match: * it must not exist.
func (s *Server) putFile(w http.ResponseWriter, r *http.Request, u *store.User) {
	id := r.PathValue("id")
	if s.Files == nil {
		writeError(w, http.StatusNotFound, CodeUnavailable, "File access is not available on this server")
		return
	}
	if r.ContentLength < 0 {
		writeError(w, http.StatusLengthRequired, CodeInvalidPayload, "Content-Length is required")
		return
	}
	opt := files.WriteOptions{BaseSha256: strings.TrimSpace(r.Header.Get("X-Base-Sha256")), Create: true, Overwrite: true}
	if r.Header.Get("If-None-Match") == "*" {
		opt.Overwrite = false
	}
	res, err := s.Files.Put(r.Context(), u, id, r.PathValue("path"), r.Body, r.ContentLength, opt)
	if err != nil {
		s.fileHTTPError(w, id, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"workspaceId": id, "path": r.PathValue("path"),
		"sha256": res.Sha256, "size": res.Size, "mtime": timestamp(res.Mtime)})
}
