package webbridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/codeterm/codeterm/auth"
	"github.com/codeterm/codeterm/files"
	"github.com/codeterm/codeterm/store"
	"github.com/codeterm/codeterm/webbridge/socketio"
	"github.com/codeterm/codeterm/workspaces"
)

// workspace returns one of the user's workspaces; another user's is
// reported exactly like a missing one.
func (s *Server) workspace(ctx context.Context, userID, id string) (*store.Workspace, error) {
	if s.Workspaces != nil {
		return s.Workspaces.Get(ctx, userID, id)
	}
	return s.Store.Workspace(ctx, userID, id)
}

func unavailable(what string) *wireError {
	return &wireError{Code: CodeUnavailable, Message: what + " is not available on this server"}
}

// create-workspace {name, githubUrl? | repoUrl? | githubRepo?, branch?, depth?}
func (c *client) createWorkspace(m *socketio.Message, r *reply) {
	var p struct {
		Name       string `json:"name"`
		GitHubURL  string `json:"githubUrl"`
		RepoURL    string `json:"repoUrl"`
		GitHubRepo string `json:"githubRepo"`
		Branch     string `json:"branch"`
		Depth      int    `json:"depth"`
	}
	r.operation = "create"
	if e := decodePayload(m, &p); e != nil {
		r.fail(e)
		return
	}
	if e := requiredID("name", p.Name); e != nil {
		r.fail(e)
		return
	}
	if c.srv.Workspaces == nil {
		r.fail(unavailable("Workspace management"))
		return
	}
	url := p.RepoURL
	if url == "" {
		url = p.GitHubURL
	}
	if url == "" && p.GitHubRepo != "" {
		url = "https://github.com/" + p.GitHubRepo
	}
	if url != "" {
		r.operation = "clone"
	}
	c.goWork(func() {
		opts := workspaces.CreateOptions{Name: p.Name, RepoURL: url, Branch: p.Branch, Depth: p.Depth}
		c.githubAuth(&opts)
		c.create(r, opts)
	})
}

// githubAuth gives a clone from GitHub's host what clone-workspace gives
// one: the user's token, if they signed in with GitHub, and the credential
// helper, so that git in the workspace's terminals can pull and push.
// Without a token the clone goes ahead anonymously (public repositories).
func (c *client) githubAuth(opts *workspaces.CreateOptions) {
	gh := c.srv.GitHub
	if gh == nil || opts.RepoURL == "" || !gh.Repos.Hosts(opts.RepoURL) {
		return
	}
	opts.CredentialHelper = gh.CredentialHelper
	ctx, cancel := context.WithTimeout(c.srv.ctx, 30*time.Second)
	defer cancel()
	token, err := c.srv.Auth.GitHubToken(ctx, c.user.ID)
	switch {
	case err == nil:
		opts.Auth = workspaces.Auth{Token: token}
	case !errors.Is(err, auth.ErrNoGitHubToken):
		c.log.Warn("github token for clone", "err", err)
	}
}

// create runs a workspace creation with the workspace-progress,
// workspace-created and workspace-error flow that create-workspace and
// clone-workspace share. It blocks: call it from goWork.
func (c *client) create(r *reply, opts workspaces.CreateOptions) {
	name := opts.Name
	opts.Progress = func(pr workspaces.Progress) {
		c.emit("workspace-progress", map[string]any{
			"step": pr.Step, "progress": pr.Percent, "message": pr.Message, "name": name,
		})
	}
	ws, err := c.srv.Workspaces.Create(c.srv.ctx, c.user, opts)
	if err != nil {
		e := workspaceError("", err)
		if e.Code == CodeInternal {
			c.log.Error("create workspace", "name", name, "err", err)
		}
		r.fail(e)
		return
	}
	created := map[string]any{"workspace": toWorkspaceJSON(ws)}
	// Every tab of the user lists workspaces.
	c.srv.toRooms("workspace-created", created, userRoom(c.user.ID))
	r.ok(created)
}

// cancel-workspace {name}: abort a clone in flight.
func (c *client) cancelWorkspace(m *socketio.Message, r *reply) {
	var p struct {
		Name string `json:"name"`
	}
	r.operation = "cancel"
	if e := decodePayload(m, &p); e != nil {
		r.fail(e)
		return
	}
	if e := requiredID("name", p.Name); e != nil {
		r.fail(e)
		return
	}
	if c.srv.Workspaces == nil {
		r.fail(unavailable("Workspace management"))
		return
	}
	r.ok(map[string]any{"name": p.Name, "cancelled": c.srv.Workspaces.Cancel(c.user.ID, p.Name)})
}

// delete-workspace {workspaceId, deleteFiles?}: deleteFiles false keeps
// the checkout on disk and only forgets the workspace.
func (c *client) deleteWorkspace(m *socketio.Message, r *reply) {
	id, ok := c.workspaceIDPayload(m, r, "delete")
	if !ok {
		return
	}
	var p struct {
		DeleteFiles *bool `json:"deleteFiles"`
	}
	if e := decodePayload(m, &p); e != nil {
		r.fail(e)
		return
	}
	remove := c.srv.Workspaces.Delete
	if p.DeleteFiles != nil && !*p.DeleteFiles {
		remove = c.srv.Workspaces.Forget
	}
	c.goWork(func() {
		if err := remove(c.srv.ctx, c.user.ID, id); err != nil {
			r.fail(c.workspaceFailure(id, err))
			return
		}
		deleted := map[string]any{"workspaceId": id, "success": true}
		c.srv.toRooms("workspace-deleted", deleted, userRoom(c.user.ID))
		r.ok(deleted)
	})
}

// workspaceIDPayload decodes the {workspaceId} payload most workspace
// events share.
func (c *client) workspaceIDPayload(m *socketio.Message, r *reply, op string) (string, bool) {
	var p struct {
		WorkspaceID string `json:"workspaceId"`
	}
	r.operation = op
	if !decodeWorkspaceEvent(m, r, &p, &p.WorkspaceID) {
		return "", false
	}
	if c.srv.Workspaces == nil {
		r.fail(unavailable("Workspace management"))
		return "", false
	}
	return p.WorkspaceID, true
}

// sync-workspace {workspaceId, operation: pull | fetch | push}
func (c *client) syncWorkspace(m *socketio.Message, r *reply) {
	var p struct {
		WorkspaceID string `json:"workspaceId"`
		Operation   string `json:"operation"`
	}
	r.operation = "sync"
	if !decodeWorkspaceEvent(m, r, &p, &p.WorkspaceID) {
		return
	}
	switch p.Operation {
	case workspaces.OpPull, workspaces.OpFetch, workspaces.OpPush:
		r.operation = p.Operation
	default:
		r.fail(invalidField("operation", "operation must be pull, fetch or push"))
		return
	}
	if c.srv.Workspaces == nil {
		r.fail(unavailable("Workspace management"))
		return
	}
	c.goWork(func() {
		res, err := c.srv.Workspaces.Sync(c.srv.ctx, c.user.ID, p.WorkspaceID, p.Operation, c.gitAuth(p.WorkspaceID))
		if err != nil {
			r.fail(c.workspaceFailure(p.WorkspaceID, err))
			return
		}
		synced := map[string]any{
			"workspaceId": p.WorkspaceID, "operation": res.Operation, "success": res.Success,
			"changes": map[string]int{"added": res.Added, "modified": res.Modified, "deleted": res.Deleted},
		}
		c.srv.toRooms("workspace-synced", synced, c.sock.ID(), workspaceRoom(p.WorkspaceID))
		r.ok(synced)
		c.srv.kickWorkspace(p.WorkspaceID)
	})
}

// workspaceStatus is the workspace-status payload.
type workspaceStatus struct {
	WorkspaceID  string               `json:"workspaceId"`
	Git          workspaces.GitStatus `json:"git"`
	Processes    []processJSON        `json:"processes"`
	LastActivity string               `json:"lastActivity"`
}

type processJSON struct {
	PID     int    `json:"pid"`
	Command string `json:"command"`
	Status  string `json:"status"`
	// SessionID is the terminal the process runs in.
	SessionID string `json:"sessionId"`
}

// status computes a workspace's status. With git non-nil the git part is
// reused (process lists are cheap, git status on a big tree is not).
func (s *Server) status(ctx context.Context, userID, id string, git *workspaces.GitStatus) (workspaceStatus, error) {
	ws, err := s.Workspaces.Get(ctx, userID, id)
	if err != nil {
		return workspaceStatus{}, err
	}
	st := workspaceStatus{WorkspaceID: id, Processes: []processJSON{}}
	if git != nil {
		st.Git = *git
	} else if st.Git, err = s.Workspaces.Status(ctx, userID, id); err != nil {
		return workspaceStatus{}, err
	}
	last := ws.LastActivity
	if s.Sessions != nil {
		for _, sess := range s.Sessions.List(userID, id) {
			if la := sess.Info().LastActivity; la.After(last) {
				last = la
			}
			for _, p := range sess.Processes() {
				st.Processes = append(st.Processes, processJSON{PID: p.PID, Command: p.Command, Status: "running", SessionID: sess.ID()})
			}
		}
	}
	st.LastActivity = timestamp(last)
	return st, nil
}

// get-workspace-status {workspaceId}
func (c *client) getWorkspaceStatus(m *socketio.Message, r *reply) {
	id, ok := c.workspaceIDPayload(m, r, "status")
	if !ok {
		return
	}
	c.goWork(func() {
		ctx, cancel := context.WithTimeout(c.srv.ctx, 30*time.Second)
		defer cancel()
		st, err := c.srv.status(ctx, c.user.ID, id, nil)
		if err != nil {
			r.fail(c.workspaceFailure(id, err))
			return
		}
		c.emit("workspace-status", st)
		r.ok(map[string]any{"status": st})
	})
}

// join-workspace {workspaceId}: the socket gets the workspace's
// session-status, file-changed and workspace-status events.
func (c *client) joinWorkspace(m *socketio.Message, r *reply) {
	id, ok := c.workspaceIDPayload(m, r, "join")
	if !ok {
		return
	}
	c.goWork(func() {
		ctx, cancel := context.WithTimeout(c.srv.ctx, 10*time.Second)
		defer cancel()
		if _, err := c.srv.workspace(ctx, c.user.ID, id); err != nil {
			r.fail(c.workspaceFailure(id, err))
			return
		}
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return
		}
		var w *wsWatch
		if !c.joined[id] {
			if c.joined == nil {
				c.joined = map[string]bool{}
			}
			c.joined[id] = true
			c.sock.Join(workspaceRoom(id))
			w = c.srv.hub.acquire(c.srv, c.user.ID, id)
		}
		c.mu.Unlock()
		joined := map[string]any{"workspaceId": id, "room": workspaceRoom(id)}
		c.emit("joined-workspace", joined)
		r.ok(joined)
		if w != nil {
			if last := w.lastStatus(); last != nil {
				c.emit("workspace-status", last)
			}
		}
	})
}

// leave-workspace {workspaceId}
func (c *client) leaveWorkspace(m *socketio.Message, r *reply) {
	id, ok := c.workspaceIDPayload(m, r, "leave")
	if !ok {
		return
	}
	c.mu.Lock()
	was := c.joined[id]
	delete(c.joined, id)
	c.mu.Unlock()
	if was {
		c.sock.Leave(workspaceRoom(id))
		c.srv.hub.release(id)
	}
	r.ok(map[string]any{"workspaceId": id})
}

// wsWatch is the file watcher and status pusher of one joined workspace,
// running while at least one socket has it joined.
type wsWatch struct {
	id, userID string
	refs       int // guarded by hub.mu
	cancel     context.CancelFunc
	kick       chan struct{}

	mu   sync.Mutex
	last json.RawMessage // the latest workspace-status, for sockets that join later
}

func (w *wsWatch) lastStatus() json.RawMessage {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

func (w *wsWatch) setLast(b json.RawMessage) {
	w.mu.Lock()
	w.last = b
	w.mu.Unlock()
}

func (h *hub) acquire(s *Server, userID, id string) *wsWatch {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.watches == nil {
		h.watches = map[string]*wsWatch{}
	}
	w := h.watches[id]
	if w == nil {
		ctx, cancel := context.WithCancel(s.ctx)
		w = &wsWatch{id: id, userID: userID, cancel: cancel, kick: make(chan struct{}, 1)}
		h.watches[id] = w
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.runWatch(ctx, w)
		}()
		w.kick <- struct{}{} // first status at once
	}
	w.refs++
	return w
}

func (h *hub) release(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	w := h.watches[id]
	if w == nil {
		return
	}
	if w.refs--; w.refs <= 0 {
		delete(h.watches, id)
		w.cancel()
	}
}

// kickWorkspace asks for a workspace-status refresh if anyone watches it.
func (s *Server) kickWorkspace(id string) {
	s.hub.mu.Lock()
	w := s.hub.watches[id]
	s.hub.mu.Unlock()
	if w != nil {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
}

// processInterval is how often a joined workspace's processes are
// re-listed: they change without any file event.
const processInterval = 5 * time.Second

func (s *Server) runWatch(ctx context.Context, w *wsWatch) {
	room := workspaceRoom(w.id)
	s.watchPorts(ctx, w)
	var events <-chan workspaces.FileEvent
	if sub, err := s.Workspaces.Watch(ctx, w.userID, w.id); err != nil {
		s.Log.Warn("workspace watch", "workspace", w.id, "err", err)
	} else {
		defer sub.Close()
		events = sub.Events()
	}
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	procs := time.NewTicker(processInterval)
	defer procs.Stop()
	var git *workspaces.GitStatus
	var lastKey []byte
	push := func(refreshGit bool) {
		if refreshGit {
			git = nil
		}
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		st, err := s.status(sctx, w.userID, w.id, git)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				s.Log.Debug("workspace status", "workspace", w.id, "err", err)
			}
			return
		}
		git = &st.Git
		// Compare without lastActivity, which changes with every keystroke.
		key, _ := json.Marshal(struct {
			G workspaces.GitStatus
			P []processJSON
		}{st.Git, st.Processes})
		full, _ := json.Marshal(st)
		w.setLast(full)
		if bytes.Equal(key, lastKey) {
			return
		}
		lastKey = key
		s.toRooms("workspace-status", json.RawMessage(full), room)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				events = nil // the workspace was deleted or its watcher failed
				continue
			}
			if files.IsTemp(ev.Path) {
				continue // an upload or a save in progress: its end is the event
			}
			s.toRooms("file-changed", map[string]string{
				"workspaceId": w.id, "path": ev.Path, "type": ev.Type, "timestamp": timestamp(ev.Time),
			}, room)
			debounce.Reset(s.Socket.StatusDebounce)
		case <-w.kick:
			debounce.Reset(s.Socket.StatusDebounce)
		case <-debounce.C:
			push(true)
		case <-procs.C:
			push(false)
		}
	}
}
