package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/codeterm/codeterm/store"
)

// ErrCodeInvalid is returned for a login code that is unknown, used or expired.
var ErrCodeInvalid = errors.New("login code is invalid, used or expired")

// NewLoginCode creates a one-time login code for the user: 256 random bits,
// stored only as a hash, single use, valid for LoginCodeTTL.
func (s *Service) NewLoginCode(ctx context.Context, userID string) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("login code: %w", err)
	}
	code := base64.RawURLEncoding.EncodeToString(b[:])
	if err := s.Store.PutLoginCode(ctx, hashCode(code), userID, s.now().Add(s.LoginCodeTTL)); err != nil {
		return "", err
	}
	return code, nil
}

// LoginURL is the browser link that exchanges a code.
func LoginURL(base, code string) string {
	return strings.TrimRight(base, "/") + "/login?code=" + url.QueryEscape(code)
}

// ExchangeCode uses a login code once and returns a fresh token for its user.
func (s *Service) ExchangeCode(ctx context.Context, code string) (string, *store.User, error) {
	if len(code) == 0 || len(code) > 128 {
		return "", nil, ErrCodeInvalid
	}
	userID, err := s.Store.UseLoginCode(ctx, hashCode(code), s.now())
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrCodeUsed) || errors.Is(err, store.ErrCodeExpired) {
		return "", nil, fmt.Errorf("%w (%v)", ErrCodeInvalid, err)
	}
	if err != nil {
		return "", nil, err
	}
	u, err := s.Store.UserByID(ctx, userID)
	if err != nil {
		return "", nil, err
	}
	tok, _, err := s.IssueToken(u, 0)
	return tok, u, err
}

func hashCode(code string) string {
	h := sha256.Sum256([]byte(code))
	return hex.EncodeToString(h[:])
}
