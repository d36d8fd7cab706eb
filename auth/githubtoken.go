package auth

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"

	"github.com/codeterm/codeterm/store"
)

// ErrNoGitHubToken means the user has not signed in with GitHub (or GitHub
// refused the token and it was forgotten).
var ErrNoGitHubToken = errors.New("no GitHub token: sign in with GitHub")

const sealVersion = 1

// SaveGitHubToken stores the user's GitHub token sealed with AES-256-GCM
// under a key derived from the JWT secret, with the user id as associated
// data: a copy of the database without the secret file reveals nothing, and
// a row copied onto another user's id does not open.
func (s *Service) SaveGitHubToken(ctx context.Context, userID, login, token, scope string) error {
	if token == "" {
		return errors.New("save github token: empty token")
	}
	aead, err := s.tokenAEAD()
	if err != nil {
		return err
	}
	nonce := make([]byte, aead.NonceSize(), 1+aead.NonceSize()+len(token)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return fmt.Errorf("seal github token: %w", err)
	}
	sealed := append([]byte{sealVersion}, nonce...)
	sealed = aead.Seal(sealed, nonce, []byte(token), tokenAAD(userID))
	return s.Store.PutGitHubToken(ctx, &store.GitHubToken{UserID: userID, Login: strings.ToLower(login), Sealed: sealed, Scope: scope})
}

// GitHubToken returns the user's GitHub token, or an error wrapping
// ErrNoGitHubToken. Callers must keep it out of logs and error texts.
func (s *Service) GitHubToken(ctx context.Context, userID string) (string, error) {
	rec, err := s.Store.GitHubToken(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("user %s: %w", userID, ErrNoGitHubToken)
	}
	if err != nil {
		return "", err
	}
	aead, err := s.tokenAEAD()
	if err != nil {
		return "", err
	}
	n := aead.NonceSize()
	if len(rec.Sealed) < 1+n || rec.Sealed[0] != sealVersion {
		return "", fmt.Errorf("github token of user %s: unknown format: %w", userID, ErrNoGitHubToken)
	}
	plain, err := aead.Open(nil, rec.Sealed[1:1+n], rec.Sealed[1+n:], tokenAAD(userID))
	if err != nil {
		// A new JWT secret (or a tampered row): the user signs in again.
		return "", fmt.Errorf("github token of user %s does not open (JWT secret changed?): %w", userID, ErrNoGitHubToken)
	}
	return string(plain), nil
}

// ForgetGitHubToken deletes the user's GitHub token.
func (s *Service) ForgetGitHubToken(ctx context.Context, userID string) error {
	return s.Store.DeleteGitHubToken(ctx, userID)
}

func (s *Service) tokenAEAD() (cipher.AEAD, error) {
	block, err := aes.NewCipher(s.subkey("github-token"))
	if err != nil {
		return nil, fmt.Errorf("github token key: %w", err)
	}
	return cipher.NewGCM(block)
}

func tokenAAD(userID string) []byte { return []byte("codeterm github token\x00" + userID) }
