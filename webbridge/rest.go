package webbridge

import (
	"context"
	"net/http"
	"time"

	"github.com/codeterm/codeterm/store"
)

// listTerminalsREST is GET /api/workspaces/{id}/terminals: the same list as
// terminals-listed. Another user's workspace is a 404 like a missing one.
func (s *Server) listTerminalsREST(w http.ResponseWriter, r *http.Request, u *store.User) {
	id := r.PathValue("id")
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	if _, err := s.workspace(ctx, u.ID, id); err != nil {
		e := workspaceError(id, err)
		status := http.StatusNotFound
		if e.Code != CodeWorkspaceNotFound {
			s.Log.Error("list terminals", "workspace", id, "err", err)
			status = http.StatusInternalServerError
		}
		writeError(w, status, e.Code, e.Message)
		return
	}
	terms := []terminalJSON{}
	if s.Sessions != nil {
		terms = s.terminalsOf(u.ID, id)
	}
	writeJSON(w, http.StatusOK, map[string]any{"workspaceId": id, "terminals": terms})
}
