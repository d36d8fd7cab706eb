package auth

import (
	"crypto/hmac"
	"crypto/sha256"
)

// subkey derives an independent key for one purpose from the JWT secret, so
// the one secret on disk serves every use without a key that signs tokens
// ever also sealing data or binding OAuth state.
func (s *Service) subkey(purpose string) []byte {
	m := hmac.New(sha256.New, s.Secret)
	m.Write([]byte("codeterm/" + purpose))
	return m.Sum(nil)
}

func mac(key []byte, parts ...string) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		// Length-prefixing keeps ("ab","c") and ("a","bc") apart.
		m.Write([]byte{byte(len(p) >> 8), byte(len(p))})
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}
