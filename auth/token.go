package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/codeterm/codeterm/store"
)

// Token errors. Every one of them means "Authentication failed" to a client;
// they are distinct so that logs and the session-expired event can tell why.
var (
	ErrTokenInvalid = errors.New("invalid token")
	ErrTokenExpired = errors.New("token expired")
	ErrTokenRevoked = errors.New("token revoked")
)

// Claims are the claims codeterm puts in a token.
type Claims struct {
	Name string `json:"name"`
	jwt.RegisteredClaims
}

// IssueToken signs a token for the user, valid for ttl (0: the default TTL).
func (s *Service) IssueToken(u *store.User, ttl time.Duration) (string, *Claims, error) {
	if ttl <= 0 {
		ttl = s.TokenTTL
	}
	now := s.now().Truncate(time.Second)
	c := &Claims{
		Name: u.Name,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   u.ID,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
			ID:        store.NewID(),
		},
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(s.Secret)
	if err != nil {
		return "", nil, fmt.Errorf("sign token: %w", err)
	}
	return signed, c, nil
}

// Verify checks a token's signature (HS256 only: any other alg, none included,
// is refused), expiry, revocation by id and by user, and that its user exists.
func (s *Service) Verify(ctx context.Context, token string) (*Claims, *store.User, error) {
	c := &Claims{}
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(s.now),
	)
	_, err := parser.ParseWithClaims(token, c, func(*jwt.Token) (any, error) { return s.Secret, nil })
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return c, nil, ErrTokenExpired
	case err != nil:
		return nil, nil, fmt.Errorf("%w: %v", ErrTokenInvalid, err)
	case c.Subject == "" || c.ID == "" || c.IssuedAt == nil:
		return nil, nil, fmt.Errorf("%w: missing sub, jti or iat", ErrTokenInvalid)
	}
	revoked, err := s.Store.TokenRevoked(ctx, c.ID)
	if err != nil {
		return nil, nil, err
	}
	if revoked {
		return nil, nil, ErrTokenRevoked
	}
	u, err := s.Store.UserByID(ctx, c.Subject)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, fmt.Errorf("%w: user no longer exists", ErrTokenRevoked)
	}
	if err != nil {
		return nil, nil, err
	}
	if c.IssuedAt.Time.Before(u.TokensValidAfter) {
		return nil, nil, ErrTokenRevoked
	}
	return c, u, nil
}

// RevokeToken revokes one token by its id.
func (s *Service) RevokeToken(ctx context.Context, c *Claims) error {
	exp := s.now().Add(s.TokenTTL)
	if c.ExpiresAt != nil {
		exp = c.ExpiresAt.Time
	}
	return s.Store.RevokeToken(ctx, c.ID, exp)
}
