package auth

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/codeterm/codeterm/store"
)

// OwnerName turns an OS user name into a valid codeterm user name.
func OwnerName(osUser string) string {
	b := []byte(strings.ToLower(osUser))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	name := string(b)
	if name == "" || !(name[0] >= 'a' && name[0] <= 'z' || name[0] == '_') {
		name = "_" + name
	}
	if len(name) > 32 {
		name = name[:32]
	}
	return name
}

// EnsureOwner creates the owner account on first run, when the store has no
// user yet, with the keys of sshDir/authorized_keys and sshDir/*.pub. On later
// runs it returns the existing users untouched (created is false).
func (s *Service) EnsureOwner(ctx context.Context, osUser, sshDir string) (owner *store.User, keys []PublicKey, created bool, err error) {
	users, err := s.Store.Users(ctx)
	if err != nil {
		return nil, nil, false, err
	}
	if len(users) > 0 {
		name := OwnerName(osUser)
		for _, u := range users {
			if u.Name == name {
				return u, nil, false, nil
			}
		}
		return users[0], nil, false, nil
	}
	owner, err = s.AddUser(ctx, OwnerName(osUser))
	if err != nil {
		return nil, nil, false, err
	}
	keys, err = s.AddKeys(ctx, owner, LocalKeys(sshDir))
	return owner, keys, true, err
}

// LocalKeys reads every public key in authorized_keys and *.pub of dir;
// unreadable or malformed files are skipped.
func LocalKeys(dir string) []PublicKey {
	files, _ := filepath.Glob(filepath.Join(dir, "*.pub"))
	sort.Strings(files)
	files = append([]string{filepath.Join(dir, "authorized_keys")}, files...)
	var out []PublicKey
	seen := map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		keys, err := ParsePublicKeys(data)
		if err != nil {
			continue
		}
		for _, k := range keys {
			if fp := k.Fingerprint(); !seen[fp] {
				seen[fp] = true
				out = append(out, k)
			}
		}
	}
	return out
}
