package auth

import (
	"crypto/hmac"
	"encoding/base64"
	"errors"
	"strings"
)

// ErrGitCredential: a git credential id that is malformed or forged.
var ErrGitCredential = errors.New("invalid git credential id")

// GitCredential returns the credential id a terminal session's shell gets
// for `codeterm git-credential`: the user and session ids and an HMAC over
// them. It is no secret beyond what it can obtain — that user's GitHub
// token, and only while the session runs, because the server also checks the
// session is live and the user's — and it can neither be forged for another
// user or session nor turned into a login.
func (s *Service) GitCredential(userID, sessionID string) string {
	sum := mac(s.subkey("git-credential"), userID, sessionID)
	return userID + "." + sessionID + "." + base64.RawURLEncoding.EncodeToString(sum)
}

// VerifyGitCredential checks a credential id's HMAC and returns its user and
// session; the caller still checks the session is live.
func (s *Service) VerifyGitCredential(cred string) (userID, sessionID string, err error) {
	parts := strings.Split(cred, ".")
	if len(cred) > 512 || len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		return "", "", ErrGitCredential
	}
	got, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(got, mac(s.subkey("git-credential"), parts[0], parts[1])) {
		return "", "", ErrGitCredential
	}
	return parts[0], parts[1], nil
}
