package certs

import (
	"bytes"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/acme"

	"github.com/codeterm/codeterm/config"
	"github.com/codeterm/codeterm/internal/certtest"
)

func served(t *testing.T, f *Files) []byte {
	t.Helper()
	c, err := f.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil {
		t.Fatal(err)
	}
	return c.Certificate[0]
}

func leafOf(t *testing.T, certFile string) []byte {
	t.Helper()
	c, err := tls.LoadX509KeyPair(certFile, strings.Replace(certFile, "cert.pem", "key.pem", 1))
	if err != nil {
		t.Fatal(err)
	}
	return c.Certificate[0]
}

// A renewed pair is picked up at the next handshake; a broken one is not,
// and the last good certificate keeps being served.
func TestFilesReload(t *testing.T) {
	dir := t.TempDir()
	cert, key := certtest.Write(t, dir, time.Now().Add(time.Hour), "a.test")
	f, err := LoadFiles(cert, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := leafOf(t, cert)
	if !bytes.Equal(served(t, f), first) {
		t.Fatal("not the file's certificate")
	}
	certtest.Write(t, dir, time.Now().Add(2*time.Hour), "a.test")
	later := time.Now().Add(time.Minute) // a different mtime even on coarse clocks
	os.Chtimes(cert, later, later)
	renewed := leafOf(t, cert)
	if !bytes.Equal(served(t, f), renewed) || bytes.Equal(first, renewed) {
		t.Fatal("the renewed certificate is not served")
	}
	os.WriteFile(key, []byte("garbage"), 0o600)
	if !bytes.Equal(served(t, f), renewed) {
		t.Fatal("after a broken key: not the previous certificate")
	}
	if _, err := LoadFiles(cert, key, nil); err == nil {
		t.Fatal("LoadFiles accepted a broken key")
	}
}

func TestFromConfigFiles(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Default()
	cfg.HTTP.TLSCert, cfg.HTTP.TLSKey = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if _, err := FromConfig(cfg, nil); err == nil {
		t.Fatal("missing files accepted")
	}
	certtest.Write(t, dir, time.Now().Add(time.Hour), "a.test")
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
