package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/codeterm/codeterm/store"
)

var userNameRE = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)

// ValidateUserName checks a user name against the allowed pattern.
func ValidateUserName(name string) error {
	if !userNameRE.MatchString(name) {
		return fmt.Errorf("invalid user name %q: use 1-32 characters, a lowercase letter or _ first, then lowercase letters, digits, _ or -", name)
	}
	return nil
}

// PublicKey is a parsed SSH public key with its comment.
type PublicKey struct {
	Key     ssh.PublicKey
	Comment string
}

// Fingerprint is the key's SHA256 fingerprint as ssh-keygen -l prints it.
func (k PublicKey) Fingerprint() string { return ssh.FingerprintSHA256(k.Key) }

// ParsePublicKeys parses authorized_keys or .pub content: one key per line,
// blank lines and comments ignored. Content without a single key is an error.
func ParsePublicKeys(data []byte) ([]PublicKey, error) {
	var out []PublicKey
	for n, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		key, comment, _, _, err := ssh.ParseAuthorizedKey(line)
		if err != nil {
			return nil, fmt.Errorf("line %d is not an SSH public key (want e.g. \"ssh-ed25519 AAAA... comment\")", n+1)
		}
		out = append(out, PublicKey{Key: key, Comment: comment})
	}
	if len(out) == 0 {
		return nil, errors.New("no SSH public key found (want lines such as \"ssh-ed25519 AAAA... comment\")")
	}
	return out, nil
}

// AddUser creates a user after validating the name.
func (s *Service) AddUser(ctx context.Context, name string) (*store.User, error) {
	if err := ValidateUserName(name); err != nil {
		return nil, err
	}
	if s.OneUser != nil {
		users, err := s.Store.Users(ctx)
		if err != nil {
			return nil, err
		}
		if len(users) > 0 {
			return nil, fmt.Errorf("add user %q: %w", name, s.OneUser)
		}
	}
	u, err := s.Store.CreateUser(ctx, name)
	if errors.Is(err, store.ErrExists) {
		return nil, fmt.Errorf("user %q already exists", name)
	}
	return u, err
}

// AddKeys registers keys for a user. A key that belongs to someone else is an
// error; one the user already has is skipped.
func (s *Service) AddKeys(ctx context.Context, u *store.User, keys []PublicKey) (added []PublicKey, err error) {
	for _, k := range keys {
		fp := k.Fingerprint()
		owner, err := s.Store.UserByKeyFingerprint(ctx, fp)
		if err == nil {
			if owner.ID == u.ID {
				continue
			}
			return added, fmt.Errorf("key %s already belongs to another user", fp)
		}
		if !errors.Is(err, store.ErrNotFound) {
			return added, err
		}
		rec := &store.SSHKey{
			UserID:      u.ID,
			Fingerprint: fp,
			PublicKey:   strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k.Key))),
			Comment:     k.Comment,
		}
		if err := s.Store.AddSSHKey(ctx, rec); err != nil {
			return added, err
		}
		added = append(added, k)
	}
	return added, nil
}

// UserByKey finds the user a presented SSH key belongs to.
func (s *Service) UserByKey(ctx context.Context, key ssh.PublicKey) (*store.User, error) {
	return s.Store.UserByKeyFingerprint(ctx, ssh.FingerprintSHA256(key))
}
