package auth

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestGitHubTokenSealed(t *testing.T) {
	s, alice, _ := newService(t)
	ctx := context.Background()
	bob, err := s.AddUser(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	const tok = "gho_secretsecretsecret"
	if _, err := s.GitHubToken(ctx, alice.ID); !errors.Is(err, ErrNoGitHubToken) {
		t.Fatalf("before save: %v", err)
	}
	if err := s.SaveGitHubToken(ctx, alice.ID, "Alice", tok, "repo"); err != nil {
		t.Fatal(err)
	}
	got, err := s.GitHubToken(ctx, alice.ID)
	if err != nil || got != tok {
		t.Fatalf("round trip %q %v", got, err)
	}
	rec, err := s.Store.GitHubToken(ctx, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(rec.Sealed, []byte(tok)) || rec.Login != "alice" || rec.Scope != "repo" {
		t.Fatalf("stored row %+v", rec)
	}
	// Bob has none, and alice's sealed row put under bob's id does not open.
	if _, err := s.GitHubToken(ctx, bob.ID); !errors.Is(err, ErrNoGitHubToken) {
		t.Fatalf("bob: %v", err)
	}
	rec.UserID = bob.ID
	if err := s.Store.PutGitHubToken(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GitHubToken(ctx, bob.ID); !errors.Is(err, ErrNoGitHubToken) || got != "" {
		t.Fatalf("moved row opened for bob: %q %v", got, err)
	}
	// Another secret (a new data dir key) cannot open it either.
	other := New(s.Store, bytes.Repeat([]byte{7}, 32), time.Hour, time.Minute)
	if _, err := other.GitHubToken(ctx, alice.ID); !errors.Is(err, ErrNoGitHubToken) {
		t.Fatalf("other secret: %v", err)
	}
	if err := s.ForgetGitHubToken(ctx, alice.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GitHubToken(ctx, alice.ID); !errors.Is(err, ErrNoGitHubToken) {
		t.Fatalf("after forget: %v", err)
	}
}

func TestOAuthState(t *testing.T) {
	s, _, clk := newService(t)
	o := &GitHubOAuth{Auth: s, ClientID: "cid", WebURL: "https://github.example/"}
	state, nonce, err := o.NewState()
	if err != nil {
		t.Fatal(err)
	}
	other, otherNonce, _ := o.NewState()
	u, err := url.Parse(o.AuthorizeURL("https://ct.example/api/auth/github/callback", state))
	if err != nil || u.Host != "github.example" || u.Path != "/login/oauth/authorize" {
		t.Fatalf("authorize URL %v %v", u, err)
	}
	q := u.Query()
	if q.Get("client_id") != "cid" || q.Get("state") != state || q.Get("scope") != "repo" ||
		q.Get("redirect_uri") != "https://ct.example/api/auth/github/callback" {
		t.Fatalf("authorize query %v", q)
	}
	for name, c := range map[string][2]string{
		"missing state":         {"", nonce},
		"missing cookie":        {state, ""},
		"other browser":         {state, otherNonce},
		"tampered expiry":       {"9" + state, nonce},
		"not a state":           {"garbage", nonce},
		"other state, my nonce": {other, nonce},
	} {
		if err := o.CheckState(c[0], c[1]); !errors.Is(err, ErrOAuthState) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := o.CheckState(state, nonce); err != nil {
		t.Fatalf("valid state: %v", err)
	}
	if err := o.CheckState(state, nonce); !errors.Is(err, ErrOAuthState) {
		t.Fatalf("reused state: %v", err)
	}
	clk.t = clk.t.Add(DefaultOAuthStateTTL + time.Second)
	if err := o.CheckState(other, otherNonce); !errors.Is(err, ErrOAuthState) || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired state: %v", err)
	}
}

func TestGitCredentialID(t *testing.T) {
	s, alice, _ := newService(t)
	cred := s.GitCredential(alice.ID, "sess1")
	u, sess, err := s.VerifyGitCredential(cred)
	if err != nil || u != alice.ID || sess != "sess1" {
		t.Fatalf("verify: %s %s %v", u, sess, err)
	}
	parts := strings.Split(cred, ".")
	forged := []string{
		"", "a.b", parts[0] + ".sess2." + parts[2], "bob." + parts[1] + "." + parts[2], cred + "x",
	}
	for _, f := range forged {
		if _, _, err := s.VerifyGitCredential(f); !errors.Is(err, ErrGitCredential) {
			t.Errorf("forged %q accepted: %v", f, err)
		}
	}
	// The id is no login token.
	if _, _, err := s.Verify(context.Background(), cred); err == nil {
		t.Fatal("credential id verified as a JWT")
	}
}
