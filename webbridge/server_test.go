package webbridge

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/codeterm/codeterm/auth"
	"github.com/codeterm/codeterm/store"
)

func newTestServer(t *testing.T, loginsPerMinute int) (*httptest.Server, *auth.Service, *store.User) {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a := auth.New(st, make([]byte, 32), time.Hour, time.Minute)
	u, err := a.AddUser(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Auth: a, Store: st, LoginLimiter: auth.NewLimiter(loginsPerMinute)}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	t.Cleanup(func() { s.Close() })
	return ts, a, u
}

func post(t *testing.T, url, body string) (int, map[string]any) {
	t.Helper()
	res, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

func errCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func TestExchange(t *testing.T) {
	ts, a, u := newTestServer(t, 100)
	code, _ := a.NewLoginCode(context.Background(), u.ID)
	status, body := post(t, ts.URL+"/api/auth/exchange", `{"code":"`+code+`"}`)
	if status != 200 || body["token"] == "" {
		t.Fatalf("exchange: %d %v", status, body)
	}
	if _, _, err := a.Verify(context.Background(), body["token"].(string)); err != nil {
		t.Fatalf("token: %v", err)
	}
	status, body = post(t, ts.URL+"/api/auth/exchange", `{"code":"`+code+`"}`)
	if status != 401 || errCode(body) != "INVALID_LOGIN_CODE" {
		t.Fatalf("reused code: %d %v", status, body)
	}
	for _, bad := range []string{`{"code":"nope"}`, `{}`, `not json`, `{"code":5}`} {
		status, body = post(t, ts.URL+"/api/auth/exchange", bad)
		if status != 401 && status != 400 {
			t.Fatalf("%s: %d %v", bad, status, body)
		}
		if errCode(body) == "" {
			t.Fatalf("%s: no error code: %v", bad, body)
		}
	}
}

func TestExchangeRateLimited(t *testing.T) {
	ts, _, _ := newTestServer(t, 3)
	var last int
	var body map[string]any
	for i := 0; i < 4; i++ {
		last, body = post(t, ts.URL+"/api/auth/exchange", `{"code":"guess"}`)
	}
	if last != http.StatusTooManyRequests || errCode(body) != "RATE_LIMITED" {
		t.Fatalf("4th attempt at 3/min: %d %v", last, body)
	}
}

// TestExchangeLimitSparesOtherCodes: one client guessing from an address
// does not use up the attempts of a real code's owner at the same address.
func TestExchangeLimitSparesOtherCodes(t *testing.T) {
	ts, a, u := newTestServer(t, 3)
	code, _ := a.NewLoginCode(context.Background(), u.ID)
	// Guesses under prefixes near the real code's own, never it.
	flip := func(b byte) string {
		if b == 'A' {
			return "B"
		}
		return "A"
	}
	for _, prefix := range []string{flip(code[0]) + code[1:2], code[:1] + flip(code[1])} {
		for i := 0; i < 4; i++ {
			post(t, ts.URL+"/api/auth/exchange", `{"code":"`+prefix+`-guess-`+string(rune('a'+i))+`"}`)
		}
		if status, body := post(t, ts.URL+"/api/auth/exchange", `{"code":"`+prefix+`-guess-z"}`); status != http.StatusTooManyRequests {
			t.Fatalf("guesses under %s are not limited: %d %v", prefix, status, body)
		}
	}
	status, body := post(t, ts.URL+"/api/auth/exchange", `{"code":"`+code+`"}`)
	if status != 200 || body["token"] == "" {
		t.Fatalf("a real code after others' guesses: %d %v", status, body)
	}
}

func TestBearer(t *testing.T) {
	ts, a, u := newTestServer(t, 100)
	get := func(tok string) int {
		req, _ := http.NewRequest("GET", ts.URL+"/api/workspaces", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	tok, _, _ := a.IssueToken(u, 0)
	if s := get(tok); s != 200 {
		t.Fatalf("good token: %d", s)
	}
	for _, bad := range []string{"", "x.y.z", tok + "x"} {
		if s := get(bad); s != 401 {
			t.Fatalf("token %q: %d", bad, s)
		}
	}
}

func TestHealthAndLoginPage(t *testing.T) {
	ts, _, _ := newTestServer(t, 100)
	res, err := http.Get(ts.URL + "/api/health")
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	json.NewDecoder(res.Body).Decode(&h)
	res.Body.Close()
	if res.StatusCode != 200 || h["status"] != "healthy" {
		t.Fatalf("health %d %v", res.StatusCode, h)
	}
	res, err = http.Get(ts.URL + "/login?code=abc")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("login page %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
}
