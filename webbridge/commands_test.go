package webbridge

import (
	"strings"
	"testing"
)

// The session's room hears where each command starts and ends; a socket
// that comes later asks list-commands; another user learns nothing.
func TestCommandEvents(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.dial(e.token(e.alice))
	ack := c.call("create-terminal", map[string]any{"workspaceId": e.aliceWS.ID, "shell": "bash", "cols": 80, "rows": 24})
	if ack["ok"] != true {
		t.Fatalf("create-terminal: %v", ack)
	}
	id := ack["sessionId"].(string)
	c.waitOutput(id, 0, "133;B")
	from := c.count()
	c.call("terminal-input", map[string]any{"sessionId": id, "data": "ls / | grep -q nothing-here\r"})
	started, next := c.waitEvent("command-started", from, nil)
	finished, _ := c.waitEvent("command-finished", next, nil)
	if started["sessionId"] != id || started["command"] != "ls / | grep -q nothing-here" || started["commandId"] != finished["commandId"] ||
		started["cwd"] == nil || started["seq"].(float64) <= 0 {
		t.Fatalf("command-started %v", started)
	}
	if finished["sessionId"] != id || finished["exitCode"] != float64(1) || finished["seq"].(float64) <= started["seq"].(float64) || finished["durationMs"] == nil {
		t.Fatalf("command-finished %v", finished)
	}
	out := c.output(id, 0)
	if !strings.Contains(out, "\x1b]133;C") || !strings.Contains(out, "\x1b]133;D;1") {
		t.Fatalf("the marks stay in the output: %q", out)
	}

	late := e.dial(e.token(e.alice))
	list := late.call("list-commands", map[string]any{"sessionId": id})
	cmds, _ := list["commands"].([]any)
	if list["ok"] != true || len(cmds) != 1 {
		t.Fatalf("list-commands: %v", list)
	}
	if cmd := cmds[0].(map[string]any); cmd["commandId"] != started["commandId"] || cmd["exitCode"] != float64(1) || cmd["running"] != false {
		t.Fatalf("list-commands entry %v", cmd)
	}

	bob := e.dial(e.token(e.bob))
	if ack := bob.call("list-commands", map[string]any{"sessionId": id}); ackCode(ack) != CodeSessionNotFound {
		t.Fatalf("bob's list-commands of alice's session: %v", ack)
	}
	if ack := c.call("list-commands", map[string]any{}); ackCode(ack) == "" {
		t.Fatalf("list-commands without a session: %v", ack)
	}
	bob.call("no-such-event", nil)

	// The monitoring counters saw all of it.
	st := e.srv.Stats()
	if st.Connections != 3 || st.ConnectionsTotal != 3 {
		t.Errorf("connections %d open, %d in all; want 3 and 3", st.Connections, st.ConnectionsTotal)
	}
	for k, want := range map[[2]string]uint64{
		{"list-commands", "ok"}: 1, {"list-commands", "error"}: 2, {"create-terminal", "ok"}: 1, {"unknown", "error"}: 1,
	} {
		if st.Events[k] != want {
			t.Errorf("events %v: %d, want %d (all: %v)", k, st.Events[k], want, st.Events)
		}
	}
}
