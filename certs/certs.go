// Package certs holds the HTTP server's TLS certificates: a certificate and
// key from files, re-read when they change, or certificates from an ACME
// authority (Let's Encrypt) through autocert.
package certs

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"

	"github.com/codeterm/codeterm/config"
)

// Files serves the certificate in CertFile and KeyFile. Every handshake
// compares the files' size and modification time with those last loaded and
// re-reads them when they differ, so a renewed certificate (certbot, an
// operator's cp before SIGHUP) is used without dropping a connection. A
// pair that does not load (half-written, mismatched) keeps the previous one.
type Files struct {
	CertFile, KeyFile string
	Log               *slog.Logger

	mu    sync.Mutex
	cert  *tls.Certificate
	stamp string
}

// LoadFiles loads the pair once, so that a bad file stops the server at start.
func LoadFiles(certFile, keyFile string, log *slog.Logger) (*Files, error) {
	if log == nil {
		log = slog.Default()
	}
	f := &Files{CertFile: certFile, KeyFile: keyFile, Log: log}
	if err := f.Reload(); err != nil {
		return nil, err
	}
	return f, nil
}

// Reload reads the pair now.
func (f *Files) Reload() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reload(f.fileStamp())
}

func (f *Files) reload(stamp string) error {
	cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
	if err != nil {
		return fmt.Errorf("tls certificate %s, key %s: %w", f.CertFile, f.KeyFile, err)
	}
	f.cert, f.stamp = &cert, stamp
	return nil
}

func (f *Files) fileStamp() string {
	s := ""
	for _, p := range []string{f.CertFile, f.KeyFile} {
		fi, err := os.Stat(p)
		if err != nil {
			return "missing"
		}
		s += fmt.Sprintf("%d/%d;", fi.Size(), fi.ModTime().UnixNano())
	}
	return s
}

// GetCertificate is tls.Config.GetCertificate.
func (f *Files) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if stamp := f.fileStamp(); stamp != f.stamp && stamp != "missing" {
		if err := f.reload(stamp); err != nil {
			// Keep serving the old certificate; try again on the next change.
			f.stamp = stamp
			f.Log.Error("tls certificate not reloaded, keeping the previous one", "err", err)
		} else {
			f.Log.Info("tls certificate reloaded", "cert", f.CertFile)
		}
	}
	return f.cert, nil
}

// Setup is the HTTPS side of the HTTP server.
type Setup struct {
	// TLS is the listener's configuration; nil means plain HTTP.
	TLS *tls.Config
	// ChallengeAddr, when not empty, is where Challenge must be served
	// (ACME HTTP-01 on port 80; it redirects everything else to https).
	ChallengeAddr string
	Challenge     http.Handler
}

// FromConfig builds the HTTPS setup that cfg asks for.
func FromConfig(cfg *config.Config, log *slog.Logger) (*Setup, error) {
	h := cfg.HTTP
	switch {
	case h.TLSCert != "":
		f, err := LoadFiles(h.TLSCert, h.TLSKey, log)
		if err != nil {
			return nil, err
		}
		return &Setup{TLS: serverConfig(f.GetCertificate)}, nil
	case h.ACME:
		m, err := Manager(cfg)
		if err != nil {
			return nil, err
		}
		tc := serverConfig(m.GetCertificate)
		// The TLS-ALPN-01 challenge arrives on this listener.
		tc.NextProtos = append(tc.NextProtos, acme.ALPNProto)
		s := &Setup{TLS: tc}
		if h.ACMEHTTPAddr != "" {
			s.ChallengeAddr, s.Challenge = h.ACMEHTTPAddr, m.HTTPHandler(nil)
		}
		return s, nil
	}
	return &Setup{}, nil
}

// Manager is the autocert manager for public_url's host, its cache in
// data_dir/acme (mode 0700: it holds private keys).
func Manager(cfg *config.Config) (*autocert.Manager, error) {
	u, err := url.Parse(cfg.PublicURL)
	if err != nil || u.Hostname() == "" {
		return nil, errors.New("acme: public_url must name the host to get a certificate for")
	}
	dir := filepath.Join(cfg.DataDir, "acme")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("acme cache: %w", err)
	}
	m := &autocert.Manager{
		Prompt:      autocert.AcceptTOS,
		Cache:       autocert.DirCache(dir),
		HostPolicy:  autocert.HostWhitelist(u.Hostname()),
		Email:       cfg.HTTP.ACMEEmail,
		RenewBefore: 30 * 24 * time.Hour,
	}
	if cfg.HTTP.ACMEDirectory != "" {
		m.Client = &acme.Client{DirectoryURL: cfg.HTTP.ACMEDirectory}
	}
	return m, nil
}

// serverConfig offers HTTP/1.1 only: WebSocket upgrades need it, and
// Go's server does not take WebSockets over HTTP/2.
func serverConfig(get func(*tls.ClientHelloInfo) (*tls.Certificate, error)) *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: get,
		NextProtos:     []string{"http/1.1"},
	}
}
