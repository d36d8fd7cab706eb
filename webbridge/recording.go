package webbridge

import (
	"context"
	"errors"
	"net/http"
	"os"
	"time"

	"github.com/codeterm/codeterm/sessions"
	"github.com/codeterm/codeterm/store"
	"github.com/codeterm/codeterm/webbridge/socketio"
)

// CodeRecordingUnavailable: the server keeps no recordings.
const CodeRecordingUnavailable = "RECORDING_UNAVAILABLE"

// record-session {sessionId, on}: the owner switches recording; everyone
// attached sees it in session-status (recording).
func (c *client) recordSession(m *socketio.Message, r *reply) {
	var p struct {
		SessionID string `json:"sessionId"`
		On        *bool  `json:"on"`
	}
	if !decodeSessionEvent(m, r, &p, &p.SessionID) {
		return
	}
	if p.On == nil {
		r.fail(invalidField("on", "on is required (true or false)"))
		return
	}
	err := c.srv.Sessions.SetRecording(c.who(), p.SessionID, *p.On)
	if errors.Is(err, sessions.ErrNoRecording) {
		r.fail(&wireError{Code: CodeRecordingUnavailable, Message: "Recording is not enabled on this server"})
		return
	}
	if err != nil {
		r.fail(sessionError(p.SessionID, err))
		return
	}
	r.ok(map[string]any{"sessionId": p.SessionID, "recording": *p.On})
	c.goWork(func() { c.srv.syncSessions(c.user.ID) })
}

// recordingREST is GET /api/sessions/{id}/recording: the asciicast v2 file,
// for its owner and the users the session is shared with; to anyone else a
// 404 like a missing one.
func (s *Server) recordingREST(w http.ResponseWriter, r *http.Request, u *store.User) {
	id := r.PathValue("id")
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	var path string
	err := sessions.ErrNotFound
	if s.Sessions != nil {
		path, err = s.Sessions.RecordingFile(ctx, u.ID, id)
	}
	if err != nil {
		writeError(w, http.StatusNotFound, CodeSessionNotFound, "Recording not found")
		return
	}
	f, err := os.Open(path)
	if err != nil {
		writeError(w, http.StatusNotFound, CodeSessionNotFound, "Recording not found")
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		writeError(w, http.StatusInternalServerError, CodeInternal, "Internal error")
		return
	}
	w.Header().Set("Content-Type", "application/x-asciicast")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Disposition", `attachment; filename="`+fi.Name()+`"`)
	http.ServeContent(w, r, fi.Name(), fi.ModTime(), f)
}
