package webbridge

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/codeterm/codeterm/auth"
)

// TestNodeE2E runs the end-to-end suite in e2e/ (node --test, the real
// socket.io-client) against a complete server: real store, session core and
// workspaces on 127.0.0.1. Node is required, as in CI.
func TestNodeE2E(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node (20 or later) is required for the Socket.IO end-to-end tests: install Node.js and npm (see README)")
	}
	dir, err := filepath.Abs("e2e")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "socket.io-client")); err != nil {
		npm, err := exec.LookPath("npm")
		if err != nil {
			t.Fatal("npm is required to install the e2e dependencies (socket.io-client)")
		}
		cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.test.mjs"))
	if len(files) == 0 {
		t.Fatal("no e2e/*.test.mjs files")
	}

	e := newEnv(t, envOptions{
		eventsPerSecond: 50,
		sessionQueue:    512 << 10,
		socketQueue:     256 << 10,
		healthInterval:  time.Second,
		extraRoutes:     controlRoutes,
		recordings:      true,
	})
	bg := context.Background()
	past := auth.New(e.store, e.auth.Secret, time.Hour, time.Minute)
	past.Now = func() time.Time { return time.Now().Add(-3 * time.Hour) }
	expired, _, _ := past.IssueToken(e.alice, time.Hour)
	other := auth.New(e.store, []byte("a different secret, 32 bytes!!!!"), time.Hour, time.Minute)
	badSig, _, _ := other.IssueToken(e.alice, 0)
	carol, _ := e.auth.AddUser(bg, "carol")
	revoked := e.token(carol)
	if _, err := e.store.RevokeUserTokens(bg, carol.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	dave, _ := e.auth.AddUser(bg, "dave")
	erin, _ := e.auth.AddUser(bg, "erin")
	frank, _ := e.auth.AddUser(bg, "frank")

	args := append([]string{"--test", "--test-reporter=spec"}, files...)
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"CODETERM_URL="+e.ts.URL,
		"ALICE_TOKEN="+e.token(e.alice),
		"BOB_TOKEN="+e.token(e.bob),
		"DAVE_TOKEN="+e.token(dave),
		"ERIN_TOKEN="+e.token(erin),
		"FRANK_TOKEN="+e.token(frank),
		"EXPIRED_TOKEN="+expired,
		"BADSIG_TOKEN="+badSig,
		"REVOKED_TOKEN="+revoked,
		"ALICE_WS="+e.aliceWS.ID,
		"BOB_WS="+e.bobWS.ID,
		"MAX_INPUT_BYTES="+strconv.Itoa(e.srv.Socket.MaxInputBytes),
		"EVENTS_PER_SECOND="+strconv.Itoa(e.srv.Socket.EventsPerSecond),
		"NODE_NO_WARNINGS=1",
	)
	out, err := cmd.CombinedOutput()
	t.Logf("node --test output:\n%s", out)
	if err != nil {
		t.Fatalf("node --test failed: %v", err)
	}
}

// controlRoutes lets the Node suite do what another process would do to
// the database while it is connected: mint short-lived tokens, revoke and
// delete users. Test servers only.
func controlRoutes(mux *http.ServeMux, e *testEnv) {
	user := func(w http.ResponseWriter, r *http.Request) (string, bool) {
		name := r.URL.Query().Get("user")
		u, err := e.store.UserByName(r.Context(), name)
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return "", false
		}
		return u.ID, true
	}
	mux.HandleFunc("POST /test/token", func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("user")
		u, err := e.store.UserByName(r.Context(), name)
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		ttl, err := time.ParseDuration(r.URL.Query().Get("ttl"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		tok, c, err := e.auth.IssueToken(u, ttl)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"token": tok, "expiresAt": c.ExpiresAt.Time})
	})
	mux.HandleFunc("POST /test/revoke", func(w http.ResponseWriter, r *http.Request) {
		if id, ok := user(w, r); ok {
			if _, err := e.store.RevokeUserTokens(r.Context(), id, time.Now()); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
			}
		}
	})
	// unshare removes a share the way the CLI does: in the database only.
	mux.HandleFunc("POST /test/unshare", func(w http.ResponseWriter, r *http.Request) {
		if id, ok := user(w, r); ok {
			if err := e.store.DeleteShare(r.Context(), r.URL.Query().Get("session"), id); err != nil {
				http.Error(w, err.Error(), http.StatusNotFound)
			}
		}
	})
	mux.HandleFunc("POST /test/delete-user", func(w http.ResponseWriter, r *http.Request) {
		if id, ok := user(w, r); ok {
			if err := e.store.DeleteUser(r.Context(), id); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
			}
		}
	})
}
