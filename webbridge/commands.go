package webbridge

import (
	"github.com/codeterm/codeterm/sessions"
	"github.com/codeterm/codeterm/webbridge/socketio"
)

// Command tracking: the core reports where each command of a session's
// shell starts and ends; the session's room hears of it.

type commandStarted struct {
	SessionID string `json:"sessionId"`
	CommandID string `json:"commandId"`
	Command   string `json:"command,omitempty"`
	Cwd       string `json:"cwd,omitempty"`
	Seq       int64  `json:"seq"`
}

type commandFinished struct {
	SessionID  string `json:"sessionId"`
	CommandID  string `json:"commandId"`
	ExitCode   *int   `json:"exitCode"` // null when the shell gave no status
	DurationMs int64  `json:"durationMs"`
	Seq        int64  `json:"seq"`
}

// commandInfo is one entry of list-commands.
type commandInfo struct {
	CommandID  string `json:"commandId"`
	Command    string `json:"command,omitempty"`
	Cwd        string `json:"cwd,omitempty"`
	Seq        int64  `json:"seq"`
	EndSeq     *int64 `json:"endSeq,omitempty"`
	StartedAt  string `json:"startedAt"`
	Running    bool   `json:"running"`
	ExitCode   *int   `json:"exitCode"`
	DurationMs *int64 `json:"durationMs,omitempty"`
}

// relayCommand sends one core command event to the session's room.
func (s *Server) relayCommand(ev sessions.CommandEvent) {
	c := ev.Command
	if !ev.Finished {
		s.toRooms("command-started", commandStarted{SessionID: ev.SessionID, CommandID: c.ID,
			Command: c.Command, Cwd: c.Cwd, Seq: c.Seq}, sessionRoom(ev.SessionID))
		return
	}
	s.toRooms("command-finished", commandFinished{SessionID: ev.SessionID, CommandID: c.ID,
		ExitCode: c.ExitCode, DurationMs: c.Duration.Milliseconds(), Seq: c.EndSeq}, sessionRoom(ev.SessionID))
}

// list-commands {sessionId}: the session's recent commands, oldest first
// (at most 100 finished ones, then the running one), for a client that
// joins late.
func (c *client) listCommands(m *socketio.Message, r *reply) {
	var p struct {
		SessionID string `json:"sessionId"`
	}
	if !decodeSessionEvent(m, r, &p, &p.SessionID) {
		return
	}
	sess, err := c.srv.Sessions.Get(c.user.ID, p.SessionID)
	if err != nil {
		r.fail(sessionError(p.SessionID, err))
		return
	}
	cmds := sess.Commands()
	list := make([]commandInfo, 0, len(cmds))
	for _, cmd := range cmds {
		ci := commandInfo{CommandID: cmd.ID, Command: cmd.Command, Cwd: cmd.Cwd, Seq: cmd.Seq,
			StartedAt: timestamp(cmd.Started), Running: cmd.Running, ExitCode: cmd.ExitCode}
		if !cmd.Running {
			end, ms := cmd.EndSeq, cmd.Duration.Milliseconds()
			ci.EndSeq, ci.DurationMs = &end, &ms
		}
		list = append(list, ci)
	}
	out := map[string]any{"sessionId": p.SessionID, "commands": list}
	c.emit("commands-listed", out)
	r.ok(out)
}
