// Package auth holds codeterm's identities: users and their SSH keys, browser
// tokens (JWT, HS256 only), one-time login codes, and the secrets generated on
// first run.
package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/codeterm/codeterm/store"
)

// Service issues and checks credentials against the store.
type Service struct {
	Store        *store.Store
	Secret       []byte        // JWT HMAC key, 32 bytes
	TokenTTL     time.Duration // default life of a token
	LoginCodeTTL time.Duration // life of a login code
	Now          func() time.Time
	// OneUser, if set, is the error AddUser returns once a user exists
	// (security.isolation: single), whoever adds it: the CLI or a GitHub
	// sign-in.
	OneUser error
}

// New returns a Service with the given secret and lifetimes.
func New(st *store.Store, secret []byte, tokenTTL, codeTTL time.Duration) *Service {
	return &Service{Store: st, Secret: secret, TokenTTL: tokenTTL, LoginCodeTTL: codeTTL, Now: time.Now}
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// User looks up a user by name with an error that says so when it is unknown.
func (s *Service) User(ctx context.Context, name string) (*store.User, error) {
	u, err := s.Store.UserByName(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("unknown user %q", name)
	}
	return u, err
}

// RevokeUser logs a user out everywhere: every token issued until now stops working.
func (s *Service) RevokeUser(ctx context.Context, userID string) error {
	_, err := s.Store.RevokeUserTokens(ctx, userID, s.now())
	return err
}
