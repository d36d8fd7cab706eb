package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/crypto/ssh"
)

// EnsureDataDir creates the data directory with mode 0700 and tightens an
// existing one: it holds the JWT secret and the host key.
func EnsureDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data dir %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("data dir %s: %w", dir, err)
	}
	return nil
}

// LoadOrCreateSecret reads the 256-bit JWT secret, generating it (mode 0600) on first run.
func LoadOrCreateSecret(path string) (secret []byte, created bool, err error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) != 32 {
			return nil, false, fmt.Errorf("jwt secret %s: want 32 bytes, found %d", path, len(b))
		}
		return b, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("jwt secret: %w", err)
	}
	b = make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, false, fmt.Errorf("jwt secret: %w", err)
	}
	if err := writeNew(path, b); err != nil {
		return nil, false, fmt.Errorf("jwt secret: %w", err)
	}
	return b, true, nil
}

// LoadOrCreateHostKey reads the SSH host key, generating an ed25519 key
// (OpenSSH format, mode 0600) on first run. It never replaces an existing key.
func LoadOrCreateHostKey(path string) (signer ssh.Signer, created bool, err error) {
	b, err := os.ReadFile(path)
	if err == nil {
		signer, err := ssh.ParsePrivateKey(b)
		if err != nil {
			return nil, false, fmt.Errorf("host key %s: %w", path, err)
		}
		return signer, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("host key: %w", err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, false, fmt.Errorf("host key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "codeterm host key")
	if err != nil {
		return nil, false, fmt.Errorf("host key: %w", err)
	}
	if err := writeNew(path, pem.EncodeToMemory(block)); err != nil {
		return nil, false, fmt.Errorf("host key: %w", err)
	}
	signer, err = ssh.NewSignerFromKey(priv)
	return signer, true, err
}

// writeNew creates path with mode 0600, failing if it exists, so two starters
// cannot overwrite each other's secret.
func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}
