package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/ssh"

	"github.com/codeterm/codeterm/store"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newService(t *testing.T) (*Service, *store.User, *clock) {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	secret := make([]byte, 32)
	rand.Read(secret)
	c := &clock{t: time.Now()}
	s := New(st, secret, time.Hour, 10*time.Minute)
	s.Now = c.now
	u, err := s.AddUser(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	return s, u, c
}

func TestTokenRoundTrip(t *testing.T) {
	s, u, _ := newService(t)
	tok, _, err := s.IssueToken(u, 0)
	if err != nil {
		t.Fatal(err)
	}
	c, got, err := s.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != u.ID || c.Subject != u.ID || c.ID == "" || c.IssuedAt == nil || c.ExpiresAt == nil {
		t.Fatalf("claims %+v user %+v", c, got)
	}
}

func signWith(t *testing.T, method jwt.SigningMethod, key any, claims jwt.Claims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTokenRefused(t *testing.T) {
	s, u, clk := newService(t)
	ctx := context.Background()
	good, claims, err := s.IssueToken(u, 0)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other := make([]byte, 32)
	rand.Read(other)
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + strings.TrimRight(parts[1], "A") + "B." + parts[2]

	cases := map[string]string{
		"other secret":      signWith(t, jwt.SigningMethodHS256, other, claims),
		"alg none":          signWith(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims),
		"RS256":             signWith(t, jwt.SigningMethodRS256, rsaKey, claims),
		"HS512 same secret": signWith(t, jwt.SigningMethodHS512, s.Secret, claims),
		"tampered":          tampered,
		"garbage":           "not.a.token",
		"empty":             "",
		"no expiry": signWith(t, jwt.SigningMethodHS256, s.Secret, &Claims{RegisteredClaims: jwt.RegisteredClaims{
			Subject: u.ID, ID: "x", IssuedAt: jwt.NewNumericDate(clk.t)}}),
	}
	for name, tok := range cases {
		if _, _, err := s.Verify(ctx, tok); !errors.Is(err, ErrTokenInvalid) {
			t.Errorf("%s: want ErrTokenInvalid, got %v", name, err)
		}
	}

	clk.t = clk.t.Add(2 * time.Hour)
	if _, _, err := s.Verify(ctx, good); !errors.Is(err, ErrTokenExpired) {
		t.Errorf("expired: got %v", err)
	}
}

func TestRevocation(t *testing.T) {
	s, u, clk := newService(t)
	ctx := context.Background()
	a, ca, _ := s.IssueToken(u, 0)
	b, _, _ := s.IssueToken(u, 0)
	if err := s.RevokeToken(ctx, ca); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Verify(ctx, a); !errors.Is(err, ErrTokenRevoked) {
		t.Fatalf("revoked jti: got %v", err)
	}
	if _, _, err := s.Verify(ctx, b); err != nil {
		t.Fatalf("other token must still work: %v", err)
	}
	if err := s.RevokeUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Verify(ctx, b); !errors.Is(err, ErrTokenRevoked) {
		t.Fatalf("user revoked: got %v", err)
	}
	clk.t = clk.t.Add(2 * time.Second)
	c, _, _ := s.IssueToken(u, 0)
	if _, _, err := s.Verify(ctx, c); err != nil {
		t.Fatalf("token issued after revocation must work: %v", err)
	}
	if err := s.Store.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Verify(ctx, c); !errors.Is(err, ErrTokenRevoked) {
		t.Fatalf("deleted user: got %v", err)
	}
}

func TestLoginCodes(t *testing.T) {
	s, u, clk := newService(t)
	ctx := context.Background()
	code, err := s.NewLoginCode(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(code) < 40 {
		t.Fatalf("code too short for 256 bits: %q", code)
	}
	tok, got, err := s.ExchangeCode(ctx, code)
	if err != nil || got.ID != u.ID {
		t.Fatalf("exchange: %v", err)
	}
	if _, _, err := s.Verify(ctx, tok); err != nil {
		t.Fatalf("token from code: %v", err)
	}
	if _, _, err := s.ExchangeCode(ctx, code); !errors.Is(err, ErrCodeInvalid) {
		t.Fatalf("reuse: got %v", err)
	}
	old, _ := s.NewLoginCode(ctx, u.ID)
	clk.t = clk.t.Add(11 * time.Minute)
	if _, _, err := s.ExchangeCode(ctx, old); !errors.Is(err, ErrCodeInvalid) {
		t.Fatalf("expired: got %v", err)
	}
	if _, _, err := s.ExchangeCode(ctx, "bogus"); !errors.Is(err, ErrCodeInvalid) {
		t.Fatalf("unknown: got %v", err)
	}
	if got := LoginURL("http://h:1/", "a b"); got != "http://h:1/login?code=a+b" {
		t.Fatalf("LoginURL: %s", got)
	}
}

// Two concurrent exchanges of one code: exactly one wins.
func TestLoginCodeSingleUseConcurrent(t *testing.T) {
	s, u, _ := newService(t)
	ctx := context.Background()
	code, _ := s.NewLoginCode(ctx, u.ID)
	results := make(chan error, 8)
	for i := 0; i < 8; i++ {
		go func() { _, _, err := s.ExchangeCode(ctx, code); results <- err }()
	}
	ok := 0
	for i := 0; i < 8; i++ {
		if <-results == nil {
			ok++
		}
	}
	if ok != 1 {
		t.Fatalf("%d exchanges succeeded, want 1", ok)
	}
}

func TestUserNames(t *testing.T) {
	for _, n := range []string{"alice", "_x", "a-b_c9", strings.Repeat("a", 32)} {
		if err := ValidateUserName(n); err != nil {
			t.Errorf("%q: %v", n, err)
		}
	}
	for _, n := range []string{"", "Alice", "9a", "-a", "a.b", "a b", strings.Repeat("a", 33), "a/b"} {
		if err := ValidateUserName(n); err == nil {
			t.Errorf("%q accepted", n)
		}
	}
	for in, want := range map[string]string{"John.Doe": "john_doe", "9x": "_9x", "root": "root"} {
		if got := OwnerName(in); got != want || ValidateUserName(got) != nil {
			t.Errorf("OwnerName(%q) = %q", in, got)
		}
	}
}

func newKeyLine(t *testing.T) string {
	t.Helper()
	signer, _, err := LoadOrCreateHostKey(filepath.Join(t.TempDir(), "k"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))) + " me@laptop"
}

func TestKeys(t *testing.T) {
	s, u, _ := newService(t)
	ctx := context.Background()
	line := newKeyLine(t)
	keys, err := ParsePublicKeys([]byte("# comment\n\n" + line + "\n"))
	if err != nil || len(keys) != 1 || keys[0].Comment != "me@laptop" {
		t.Fatalf("parse: %v %+v", err, keys)
	}
	if _, err := ParsePublicKeys([]byte("-----BEGIN OPENSSH PRIVATE KEY-----\n")); err == nil {
		t.Fatal("private key accepted as public key")
	}
	if _, err := ParsePublicKeys([]byte("\n# only comments\n")); err == nil {
		t.Fatal("empty key file accepted")
	}
	if added, err := s.AddKeys(ctx, u, keys); err != nil || len(added) != 1 {
		t.Fatalf("add: %v", err)
	}
	if added, err := s.AddKeys(ctx, u, keys); err != nil || len(added) != 0 {
		t.Fatalf("re-add should be a no-op: %v %d", err, len(added))
	}
	got, err := s.UserByKey(ctx, keys[0].Key)
	if err != nil || got.ID != u.ID {
		t.Fatalf("by key: %v", err)
	}
	bob, _ := s.AddUser(ctx, "bob")
	if _, err := s.AddKeys(ctx, bob, keys); err == nil {
		t.Fatal("a key of alice was given to bob")
	}
	if _, err := s.AddUser(ctx, "bob"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("duplicate user: %v", err)
	}
}

func TestSecretsAndHostKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := EnsureDataDir(dir); err != nil {
		t.Fatal(err)
	}
	sec, created, err := LoadOrCreateSecret(filepath.Join(dir, "jwt.secret"))
	if err != nil || !created || len(sec) != 32 {
		t.Fatalf("secret: %v %v %d", err, created, len(sec))
	}
	sec2, created, err := LoadOrCreateSecret(filepath.Join(dir, "jwt.secret"))
	if err != nil || created || string(sec) != string(sec2) {
		t.Fatal("secret not reused")
	}
	k1, created, err := LoadOrCreateHostKey(filepath.Join(dir, "host_ed25519"))
	if err != nil || !created || k1.PublicKey().Type() != ssh.KeyAlgoED25519 {
		t.Fatalf("host key: %v", err)
	}
	k2, created, err := LoadOrCreateHostKey(filepath.Join(dir, "host_ed25519"))
	if err != nil || created || string(k1.PublicKey().Marshal()) != string(k2.PublicKey().Marshal()) {
		t.Fatal("host key changed")
	}
	for _, f := range []string{"jwt.secret", "host_ed25519"} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v", f, fi.Mode())
		}
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("data dir mode %v", fi.Mode())
	}
}

func TestEnsureOwner(t *testing.T) {
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := New(st, make([]byte, 32), time.Hour, time.Minute)
	sshDir := t.TempDir()
	line := newKeyLine(t)
	os.WriteFile(filepath.Join(sshDir, "authorized_keys"), []byte(line+"\n"), 0o600)
	os.WriteFile(filepath.Join(sshDir, "id_ed25519.pub"), []byte(line+"\n"), 0o644)
	os.WriteFile(filepath.Join(sshDir, "broken.pub"), []byte("nope\n"), 0o644)
	u, keys, created, err := s.EnsureOwner(context.Background(), "Jane.Doe", sshDir)
	if err != nil || !created || u.Name != "jane_doe" || len(keys) != 1 {
		t.Fatalf("first run: %v %v %+v %d", err, created, u, len(keys))
	}
	u2, _, created, err := s.EnsureOwner(context.Background(), "Jane.Doe", sshDir)
	if err != nil || created || u2.ID != u.ID {
		t.Fatalf("second run: %v %v", err, created)
	}
}

func TestLimiter(t *testing.T) {
	c := &clock{t: time.Now()}
	l := NewLimiter(3)
	l.Now = c.now
	for i := 0; i < 3; i++ {
		if !l.Allow("a") {
			t.Fatalf("event %d refused", i)
		}
	}
	if l.Allow("a") {
		t.Fatal("4th event allowed")
	}
	if !l.Allow("b") {
		t.Fatal("other key limited")
	}
	c.t = c.t.Add(20 * time.Second)
	if !l.Allow("a") || l.Allow("a") {
		t.Fatal("refill should allow exactly one after 20s at 3/min")
	}
}

// TestOneUser: with OneUser set (single mode) no second user is added,
// whoever asks.
func TestOneUser(t *testing.T) {
	s, _, _ := newService(t) // it has made a first user
	one := errors.New("one user only")
	s.OneUser = one
	if _, err := s.AddUser(context.Background(), "second"); !errors.Is(err, one) {
		t.Fatalf("second user: %v", err)
	}
	s.OneUser = nil
	if _, err := s.AddUser(context.Background(), "second"); err != nil {
		t.Fatal(err)
	}
}
