package webbridge

import (
	"context"
	"crypto/md5"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/codeterm/codeterm/auth"

	"github.com/codeterm/codeterm/webbridge/socketio"
)

func TestIncompleteTail(t *testing.T) {
	euro := "€" // e2 82 ac
	for _, tc := range []struct {
		in   string
		want int
	}{
		{"", 0},
		{"abc", 0},
		{"a" + euro, 0},
		{"a" + euro[:1], 1},
		{"a" + euro[:2], 2},
		{"😀"[:3], 3},
		{"😀", 0},
		{"a\x80", 0}, // stray continuation byte: invalid, sent as U+FFFD
		{"a\xff", 0}, // never valid
		{"\x80\x80\x80", 0},
	} {
		if got := incompleteTail([]byte(tc.in)); got != tc.want {
			t.Errorf("incompleteTail(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", "quote\" back\\ nl\n cr\r tab\t", "\x00\x1b[31m\x7f", "héllo €😀"} {
		got := socketio.AppendJSONString(nil, []byte(s))
		want, _ := json.Marshal(s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil || back != s {
			t.Errorf("%q: encoded %s (encoding/json: %s), decodes to %q, %v", s, got, want, back, err)
		}
	}
	got := socketio.AppendJSONString(nil, []byte("a\xffb"))
	if string(got) != `"a\ufffdb"` {
		t.Errorf("invalid UTF-8: %s", got)
	}
}

func TestOutputEncoderAllocs(t *testing.T) {
	enc := newOutputEncoder("sess1", false)
	data := []byte(strings.Repeat("hello world\r\n", 100))
	now := time.Now()
	enc.encode(data, 1, "", now)
	if n := testing.AllocsPerRun(100, func() { enc.encode(data, 1300, "", now) }); n != 0 {
		t.Errorf("encode allocates %v times per chunk", n)
	}
	var v map[string]any
	if err := json.Unmarshal(enc.encode(data, 7, "repaint", now), &v); err != nil {
		t.Fatal(err)
	}
	if v["sessionId"] != "sess1" || v["seq"] != 7.0 || v["repaint"] != true || v["output"] != string(data) {
		t.Fatalf("payload %v", v)
	}
}

// TestUTF8Boundary splits a character across two shell writes and checks
// that no output string carries half of it, and that every seq is the exact
// byte offset of what was sent so far.
func TestUTF8Boundary(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.dial(e.token(e.alice))
	id := c.createTerminal(e.aliceWS.ID)
	// dash's printf takes octal escapes: € is \342\202\254.
	c.call("terminal-input", map[string]any{"sessionId": id, "data": `printf 'A\342\202'; sleep 0.3; printf '\254Z\n'` + "\r"})
	c.waitOutput(id, 0, "A€Z")
	checkOutputSeqs(t, c)
}

// TestKeystrokeEcho types one key at a time, as a person does, so most echoes
// take the pump's direct path, and checks every byte arrives once, in order,
// with exact offsets.
func TestKeystrokeEcho(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.dial(e.token(e.alice))
	id := c.createTerminal(e.aliceWS.ID)
	c.call("terminal-input", map[string]any{"sessionId": id, "data": "stty raw -echo; echo READY-$((40+2)); cat\r"})
	c.waitOutput(id, 0, "READY-42")
	from := c.count()
	typed := ""
	for i, r := range []rune("direct: é, €, 😀 and plain ascii") {
		k := string(r)
		if ack := c.call("terminal-input", map[string]any{"sessionId": id, "data": k}); ack["ok"] != true {
			t.Fatalf("key %d: %v", i, ack)
		}
		typed += k
		c.waitOutput(id, from, typed)
	}
	if got := c.output(id, from); got != typed {
		t.Fatalf("echo %q, want %q", got, typed)
	}
	checkOutputSeqs(t, c)
}

// checkOutputSeqs checks that each terminal-output's seq is the offset after
// it and that no character was split.
func checkOutputSeqs(t *testing.T, c *sioClient) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var total int64
	for _, ev := range c.events {
		if ev.name != "terminal-output" {
			continue
		}
		var o struct {
			Output string `json:"output"`
			Seq    int64  `json:"seq"`
		}
		json.Unmarshal(ev.data, &o)
		if strings.ContainsRune(o.Output, utf8.RuneError) {
			t.Errorf("output with U+FFFD: %q", o.Output)
		}
		total += int64(len(o.Output))
		if o.Seq != total {
			t.Errorf("seq %d after %d bytes (%q)", o.Seq, total, o.Output)
		}
	}
}

func TestAuthRefused(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	good := e.token(e.alice)

	past := auth.New(e.store, e.auth.Secret, time.Minute, time.Minute)
	past.Now = func() time.Time { return time.Now().Add(-2 * time.Hour) }
	expired, _, _ := past.IssueToken(e.alice, time.Minute)

	other := auth.New(e.store, []byte("another secret, another server!!"), time.Hour, time.Minute)
	wrongKey, _, _ := other.IssueToken(e.alice, 0)

	carol, _ := e.auth.AddUser(ctx, "carol")
	revoked := e.token(carol)
	if _, err := e.store.RevokeUserTokens(ctx, carol.ID, time.Now()); err != nil {
		t.Fatal(err)
	}

	for name, payload := range map[string]string{
		"none":      ``,
		"empty":     `{}`,
		"malformed": `{"token":"x.y.z"}`,
		"not text":  `{"token":42}`,
		"expired":   `{"token":"` + expired + `"}`,
		"wrong key": `{"token":"` + wrongKey + `"}`,
		"revoked":   `{"token":"` + revoked + `"}`,
		"tampered":  `{"token":"` + good + `x"}`,
	} {
		_, ans := e.dialRaw(payload)
		if ans != `44{"message":"Authentication failed"}` {
			t.Errorf("%s: answer %s", name, ans)
		}
	}
	c := e.dial(good)
	if ack := c.call("system-stats", nil); ack["ok"] != true {
		t.Fatalf("good token: %v", ack)
	}
}

func TestOrigin(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.srv.PublicURL = "https://codeterm.example.com"
	get := func(origin string) int {
		req, _ := http.NewRequest("GET", e.ts.URL+"/socket.io/?EIO=4&transport=polling", nil)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	for origin, want := range map[string]int{
		"":                             200,
		e.ts.URL:                       200,
		"https://codeterm.example.com": 200,
		"https://evil.example.com":     403,
		"http://codeterm.example.com":  403, // scheme matters
		"https://" + strings.TrimPrefix(e.ts.URL, "http://"): 403, // for the request's own host too
		"null": 403,
	} {
		if got := get(origin); got != want {
			t.Errorf("Origin %q: %d, want %d", origin, got, want)
		}
	}
}

func TestPayloadValidation(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.dial(e.token(e.alice))
	id := c.createTerminal(e.aliceWS.ID)
	for _, tc := range []struct {
		event, args, field string
	}{
		{"terminal-input", ``, ""},
		{"terminal-input", `"ls"`, ""},
		{"terminal-input", `{"data":"ls"}`, "sessionId"},
		{"terminal-input", `{"sessionId":"` + id + `"}`, "data"},
		{"terminal-input", `{"sessionId":"` + id + `","data":5}`, "data"},
		{"terminal-input", `{"sessionId":7,"data":"x"}`, "sessionId"},
		{"terminal-resize", `{"sessionId":"` + id + `","cols":"80","rows":24}`, "cols"},
		{"terminal-resize", `{"sessionId":"` + id + `","cols":80}`, "rows"},
		{"terminal-resize", `{"sessionId":"` + id + `","cols":0,"rows":24}`, "cols"},
		{"terminal-resize", `{"sessionId":"` + id + `","cols":80,"rows":100000}`, "rows"},
		{"create-terminal", `{"cols":80,"rows":24}`, "workspaceId"},
		{"create-terminal", `{"workspaceId":["x"]}`, "workspaceId"},
		{"attach-terminal", `{"sessionId":"` + id + `","lastSeq":"0"}`, "lastSeq"},
		{"sync-workspace", `{"workspaceId":"` + e.aliceWS.ID + `","operation":"rebase"}`, "operation"},
		{"rename-terminal", `{"sessionId":"` + id + `","name":"a\u0007b"}`, "name"},
		{"list-terminals", `{}`, "workspaceId"},
	} {
		ack := c.waitAck(c.emitRaw(tc.event, tc.args))
		if ackCode(ack) != CodeInvalidPayload {
			t.Errorf("%s %s: ack %v", tc.event, tc.args, ack)
			continue
		}
		if f, _ := ack["error"].(map[string]any)["field"].(string); f != tc.field {
			t.Errorf("%s %s: field %q, want %q", tc.event, tc.args, f, tc.field)
		}
	}
	// The error event went out too, and the connection survived it all.
	c.waitEvent("terminal-error", 0, func(m map[string]any) bool { return m["code"] == CodeInvalidPayload && m["timestamp"] != "" })
	big := strings.Repeat("x", 64<<10+1)
	if ack := c.call("terminal-input", map[string]any{"sessionId": id, "data": big}); ackCode(ack) != CodeInputTooLarge {
		t.Fatalf("oversized input: %v", ack)
	}
	if ack := c.call("no-such-event", map[string]any{}); ackCode(ack) != "UNKNOWN_EVENT" {
		t.Fatalf("unknown event: %v", ack)
	}
	from := c.count()
	c.call("terminal-input", map[string]any{"sessionId": id, "data": "echo still-$((40+2))\r"})
	c.waitOutput(id, from, "still-42")
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t, envOptions{eventsPerSecond: 5})
	c := e.dial(e.token(e.alice))
	var ids []int
	for i := 0; i < 20; i++ {
		ids = append(ids, c.emitRaw("list-terminals", `{}`))
	}
	limited := 0
	for _, id := range ids {
		if ackCode(c.waitAck(id)) == CodeRateLimited {
			limited++
		}
	}
	if limited < 10 {
		t.Fatalf("%d of 20 events over a 5/s limit were refused", limited)
	}
	c.waitEvent("error", 0, func(m map[string]any) bool { return m["code"] == CodeRateLimited })
	// The bucket refills; the connection is still usable.
	time.Sleep(400 * time.Millisecond)
	if ack := c.call("list-terminals", map[string]any{"workspaceId": e.aliceWS.ID}); ack["ok"] != true {
		t.Fatalf("after the burst: %v", ack)
	}
}

// TestOtherUser checks that another user's session and workspace are
// answered exactly like missing ones.
func TestOtherUser(t *testing.T) {
	e := newEnv(t, envOptions{})
	alice := e.dial(e.token(e.alice))
	id := alice.createTerminal(e.aliceWS.ID)
	bob := e.dial(e.token(e.bob))

	strip := func(ack map[string]any, id string) string {
		b, _ := json.Marshal(ack["error"])
		return strings.ReplaceAll(string(b), id, "ID")
	}
	for _, ev := range []string{"attach-terminal", "terminal-input", "terminal-resize", "kill-terminal", "detach-terminal", "rename-terminal"} {
		payload := map[string]any{"sessionId": id, "data": "x", "cols": 10, "rows": 10, "name": "n"}
		theirs := bob.call(ev, payload)
		payload["sessionId"] = "doesnotexist"
		missing := bob.call(ev, payload)
		if ackCode(theirs) != CodeSessionNotFound || strip(theirs, id) != strip(missing, "doesnotexist") {
			t.Errorf("%s: another user's session %v, a missing one %v", ev, theirs, missing)
		}
	}
	for _, ev := range []string{"list-terminals", "create-terminal", "get-workspace-status", "join-workspace", "delete-workspace"} {
		theirs := bob.call(ev, map[string]any{"workspaceId": e.aliceWS.ID})
		missing := bob.call(ev, map[string]any{"workspaceId": "doesnotexist"})
		if ackCode(theirs) != CodeWorkspaceNotFound || strip(theirs, e.aliceWS.ID) != strip(missing, "doesnotexist") {
			t.Errorf("%s: another user's workspace %v, a missing one %v", ev, theirs, missing)
		}
	}
	// REST too.
	for _, ws := range []string{e.aliceWS.ID, "doesnotexist"} {
		req, _ := http.NewRequest("GET", e.ts.URL+"/api/workspaces/"+ws+"/terminals", nil)
		req.Header.Set("Authorization", "Bearer "+e.token(e.bob))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 404 {
			t.Errorf("REST terminals of %s as bob: %d", ws, res.StatusCode)
		}
	}
	// Alice's session is untouched.
	from := alice.count()
	alice.call("terminal-input", map[string]any{"sessionId": id, "data": "echo alive\r"})
	alice.waitOutput(id, from, "alive")
}

func TestRESTTerminals(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.dial(e.token(e.alice))
	id := c.createTerminal(e.aliceWS.ID)
	req, _ := http.NewRequest("GET", e.ts.URL+"/api/workspaces/"+e.aliceWS.ID+"/terminals", nil)
	req.Header.Set("Authorization", "Bearer "+e.token(e.alice))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Terminals []terminalJSON `json:"terminals"`
	}
	json.NewDecoder(res.Body).Decode(&body)
	if res.StatusCode != 200 || len(body.Terminals) != 1 || body.Terminals[0].ID != id || body.Terminals[0].Attached != 1 {
		t.Fatalf("%d %+v", res.StatusCode, body)
	}
}

// TestSessionStatusFromElsewhere: a session started outside the bridge (as
// SSH would) is reported to the workspace room.
func TestSessionStatusFromElsewhere(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.dial(e.token(e.alice))
	if ack := c.call("join-workspace", map[string]any{"workspaceId": e.aliceWS.ID}); ack["ok"] != true || ack["room"] != "workspace_"+e.aliceWS.ID {
		t.Fatalf("join: %v", ack)
	}
	s, err := e.sessions.Create(context.Background(), sessionsOpts(e))
	if err != nil {
		t.Fatal(err)
	}
	_, next := c.waitEvent("session-status", 0, func(m map[string]any) bool {
		return m["sessionId"] == s.ID() && m["status"] == "inactive"
	})
	s.Kill()
	c.waitEvent("session-status", next, func(m map[string]any) bool {
		return m["sessionId"] == s.ID() && m["status"] == "terminated"
	})
}

func TestCloseDisconnectsClients(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.dial(e.token(e.alice))
	id := c.createTerminal(e.aliceWS.ID)
	done := make(chan struct{})
	go func() { e.srv.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(testTimeout):
		t.Fatal("Close did not return")
	}
	c.waitFor("the connection to close", func() bool { return c.closed })
	// Sessions belong to the core: they outlive the bridge.
	if _, err := e.sessions.Get(e.alice.ID, id); err != nil {
		t.Fatalf("session after Close: %v", err)
	}
}

// TestQueryChunk: a terminal query goes to the client as terminal-output
// flagged query, without moving seq.
func TestQueryChunk(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.dial(e.token(e.alice))
	id := c.createTerminal(e.aliceWS.ID)
	c.call("terminal-input", map[string]any{"sessionId": id, "data": `printf 'Q\033[6nR\n'` + "\r"})
	q, _ := c.waitEvent("terminal-output", 0, func(m map[string]any) bool { return m["query"] == true })
	if q["output"] != "\x1b[6n" {
		t.Fatalf("query chunk %v", q)
	}
	c.waitOutput(id, 0, "R\r\n")
	c.mu.Lock()
	defer c.mu.Unlock()
	var total float64
	for _, ev := range c.events {
		if ev.name != "terminal-output" {
			continue
		}
		var o map[string]any
		json.Unmarshal(ev.data, &o)
		if o["query"] == true {
			if o["seq"] != total {
				t.Errorf("query at seq %v after %v bytes", o["seq"], total)
			}
			continue
		}
		total += float64(len(o["output"].(string)))
		if o["seq"] != total {
			t.Errorf("seq %v after %v bytes", o["seq"], total)
		}
	}
}

// TestInputWaitsForShell: input a shell does not read at once waits in
// order (the writer starts and ends with the backlog, several times over),
// and arrives whole once the shell reads.
func TestInputWaitsForShell(t *testing.T) {
	const size = 300000
	e := newEnv(t, envOptions{})
	c := e.dial(e.token(e.alice))
	id := c.createTerminal(e.aliceWS.ID)
	for round := range 3 {
		if ack := c.call("terminal-input", map[string]any{"sessionId": id,
			"data": "stty raw -echo; echo READY-$((40+" + strconv.Itoa(round) + ")); sleep 1; head -c " + strconv.Itoa(size) + " | md5sum; stty sane; echo DONE-$((50+" + strconv.Itoa(round) + "))\r"}); ack["ok"] != true {
			t.Fatalf("round %d: command refused: %v", round, ack)
		}
		c.waitOutput(id, 0, "READY-4"+strconv.Itoa(round))
		var all strings.Builder
		for i := 0; all.Len() < size; i++ {
			fmt.Fprintf(&all, "%d-%d:%s;", round, i, strings.Repeat("y", i%500))
		}
		data := all.String()[:size]
		sum := md5.Sum([]byte(data))
		var acks []int
		for len(data) > 0 {
			n := min(len(data), 30000+len(data)%20000)
			b, _ := json.Marshal(map[string]any{"sessionId": id, "data": data[:n]})
			acks = append(acks, c.emitRaw("terminal-input", string(b)))
			data = data[n:]
		}
		for _, a := range acks {
			if ack := c.waitAck(a); ack["ok"] != true {
				t.Fatalf("round %d: input refused: %v", round, ack)
			}
		}
		c.waitOutput(id, 0, fmt.Sprintf("%x", sum))
		c.waitOutput(id, 0, "DONE-5"+strconv.Itoa(round)) // the terminal reads lines again
	}
}

// TestInputBacklog: input waiting for a shell that does not read is bounded
// (INPUT_BACKLOG past inputBacklog waiting requests), is all written once
// the shell reads, and the queue it waited in is given back once empty.
func TestInputBacklog(t *testing.T) {
	e := newEnv(t, envOptions{eventsPerSecond: 100000})
	c := e.dial(e.token(e.alice))
	id := c.createTerminal(e.aliceWS.ID)
	if ack := c.call("terminal-input", map[string]any{"sessionId": id,
		"data": "stty raw -echo; echo READY-$((40+2)); sleep 3; head -c 100 >/dev/null; echo READ-$((50+3)); cat >/dev/null\r"}); ack["ok"] != true {
		t.Fatalf("command refused: %v", ack)
	}
	c.waitOutput(id, 0, "READY-42")
	b, _ := json.Marshal(map[string]any{"sessionId": id, "data": strings.Repeat("x", 16<<10)})
	var acks []int
	for range inputBacklog + 40 {
		acks = append(acks, c.emitRaw("terminal-input", string(b)))
	}
	refused := 0
	for _, a := range acks {
		ack := c.waitAck(a)
		if ack["ok"] == true {
			continue
		}
		if werr, _ := ack["error"].(map[string]any); werr["code"] != CodeInputBacklog {
			t.Fatalf("input refused: %v", ack)
		}
		refused++
	}
	if refused == 0 || refused > 40 {
		t.Fatalf("%d of %d inputs refused, want some, at most 40", refused, len(acks))
	}
	c.waitOutput(id, 0, "READ-53")
	var v *termView
	e.srv.hub.mu.Lock()
	for _, u := range e.srv.hub.users {
		for cl := range u.clients {
			if tv := cl.view(id); tv != nil {
				v = tv
			}
		}
	}
	e.srv.hub.mu.Unlock()
	if v == nil {
		t.Fatal("no view of the session")
	}
	// The writer lets go of the queue just after its last ack.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		v.inMu.Lock()
		input, writing := v.input, v.writing
		v.inMu.Unlock()
		if input == nil && !writing && v.queued.Load() == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the backlog: queue %d (cap %d), writer running %v, %d queued", len(input), cap(input), writing, v.queued.Load())
		}
	}
}
