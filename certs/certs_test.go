package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/crypto/acme"

	"github.com/codeterm/codeterm/config"
)

// writePair writes a self-signed certificate for name and returns its serial.
func writePair(t *testing.T, certFile, keyFile, name string, serial int64) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
}

func serialOf(t *testing.T, f *Files) int64 {
	t.Helper()
	c, err := f.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil {
		t.Fatal(err)
	}
	x, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return x.SerialNumber.Int64()
}

// A renewed pair is picked up at the next handshake; a broken one is not,
// and the last good certificate keeps being served.
func TestFilesReload(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	writePair(t, cert, key, "a.test", 1)
	f, err := LoadFiles(cert, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := serialOf(t, f); s != 1 {
		t.Fatalf("serial %d", s)
	}
	writePair(t, cert, key, "a.test", 2)
	later := time.Now().Add(time.Minute) // a different mtime even on coarse clocks
	os.Chtimes(cert, later, later)
	if s := serialOf(t, f); s != 2 {
		t.Fatalf("after renewal: serial %d, want 2", s)
	}
	os.WriteFile(key, []byte("garbage"), 0o600)
	if s := serialOf(t, f); s != 2 {
		t.Fatalf("after a broken key: serial %d, want the previous 2", s)
	}
	if _, err := LoadFiles(cert, key, nil); err == nil {
		t.Fatal("LoadFiles accepted a broken key")
	}
}

func TestFromConfigFiles(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Default()
	cfg.HTTP.TLSCert, cfg.HTTP.TLSKey = filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	if _, err := FromConfig(cfg, nil); err == nil {
		t.Fatal("missing files accepted")
	}
	writePair(t, cfg.HTTP.TLSCert, cfg.HTTP.TLSKey, "a.test", 7)
	s, err := FromConfig(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.TLS == nil || s.TLS.MinVersion != tls.VersionTLS12 || !slices.Equal(s.TLS.NextProtos, []string{"http/1.1"}) || s.Challenge != nil {
		t.Fatalf("tls config %+v", s)
	}
	if s, _ := FromConfig(config.Default(), nil); s.TLS != nil {
		t.Fatal("TLS on by default")
	}
}

// ACME cannot reach an authority here: check the wiring instead (cache
// dir and its mode, host policy, TLS-ALPN-01 offered, HTTP-01 handler
// answering challenges and redirecting the rest to https).
func TestFromConfigACME(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.PublicURL = "https://code.example.com"
	cfg.HTTP.ACME = true
	cfg.HTTP.ACMEHTTPAddr = ":80"
	cfg.HTTP.ACMEDirectory = "https://acme.invalid/directory"
	s, err := FromConfig(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(cfg.DataDir, "acme")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("acme cache dir: %v %v", err, fi)
	}
	if !slices.Contains(s.TLS.NextProtos, acme.ALPNProto) {
		t.Fatalf("TLS-ALPN-01 not offered: %v", s.TLS.NextProtos)
	}
	if s.ChallengeAddr != ":80" || s.Challenge == nil {
		t.Fatalf("http-01: %q %v", s.ChallengeAddr, s.Challenge)
	}
	// Another host name is refused before any request to the authority.
	if _, err := s.TLS.GetCertificate(&tls.ClientHelloInfo{ServerName: "evil.example.com"}); err == nil {
		t.Fatal("certificate for a host not in public_url")
	}
	m, _ := Manager(cfg)
	if m.Client.DirectoryURL != cfg.HTTP.ACMEDirectory {
		t.Fatalf("directory %q", m.Client.DirectoryURL)
	}

	rec := httptest.NewRecorder()
	s.Challenge.ServeHTTP(rec, httptest.NewRequest("GET", "http://code.example.com/w/x?y=1", nil))
	if rec.Code != http.StatusFound || rec.Header().Get("Location") != "https://code.example.com/w/x?y=1" {
		t.Fatalf("plain http: %d %q", rec.Code, rec.Header().Get("Location"))
	}
	rec = httptest.NewRecorder()
	s.Challenge.ServeHTTP(rec, httptest.NewRequest("GET", "http://code.example.com/.well-known/acme-challenge/unknown", nil))
	if rec.Code != http.StatusForbidden && rec.Code != http.StatusNotFound {
		t.Fatalf("unknown challenge token: %d", rec.Code)
	}
}
