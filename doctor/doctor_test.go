package doctor

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/codeterm/codeterm/config"
	"github.com/codeterm/codeterm/internal/certtest"
)

func expect(t *testing.T, fs []Finding, level Level, check, text string) {
	t.Helper()
	for _, f := range fs {
		if f.Level == level && f.Check == check && strings.Contains(f.String(), text) {
			if level != OK && f.Fix == "" {
				t.Errorf("%q has no fix", f)
			}
			return
		}
	}
	var all strings.Builder
	Write(&all, fs)
	t.Errorf("no %s %s finding saying %q in:\n%s", level, check, text, all.String())
}

// A deliberately broken set-up: each problem is named, with a fix.
func TestBrokenSetup(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	os.Mkdir(data, 0o755)
	os.WriteFile(filepath.Join(data, "jwt.secret"), []byte("x"), 0o644)
	// Something that is not codeterm holds the HTTP port.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	cfg := config.Default()
	cfg.DataDir = data
	cfg.HTTP.Addr = "0.0.0.0:" + port
	cfg.SSH.Addr = "127.0.0.1:1" // nothing listens there
	d := &Doctor{
		Config:       cfg,
		Euid:         1000,
		MinFreeBytes: 1 << 62,
		LookPath:     func(string) (string, error) { return "", errors.New("not found") },
	}
	fs := d.Run(context.Background())
	expect(t, fs, Warn, "isolation", "not root")
	expect(t, fs, Warn, "isolation", "no useradd")
	expect(t, fs, Fail, "data dir", "chmod 700 "+data)
	expect(t, fs, Fail, "data dir", "jwt.secret has mode 644")
	expect(t, fs, Fail, "disk", "GiB free")
	expect(t, fs, Fail, "listen", "every address over plain http")
	expect(t, fs, Warn, "listen", "ssh.addr 127.0.0.1:1 is loopback only")
	expect(t, fs, Fail, "public_url", "empty while http.addr is 0.0.0.0")
	expect(t, fs, Fail, "programs", "git not found")
	expect(t, fs, Fail, "programs", "no shell found")
	expect(t, fs, Warn, "reachable", "ssh 127.0.0.1:1")
	expect(t, fs, Fail, "reachable", "accepts connections but")
	expect(t, fs, Warn, "clock", "")
}

func certFor(t *testing.T, dir, name string, notAfter time.Time) (string, string) {
	return certtest.Write(t, dir, notAfter, name)
}

func TestTLSAndPublicURL(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.PublicURL = "https://code.example.com"
	cfg.HTTP.TLSCert, cfg.HTTP.TLSKey = certFor(t, dir, "other.example.com", time.Now().Add(-time.Hour))
	fs := (&Doctor{Config: cfg}).Run(context.Background())
	expect(t, fs, Fail, "tls", "expired on")
	expect(t, fs, Fail, "tls", "is not for code.example.com")

	cfg.HTTP.TLSCert, cfg.HTTP.TLSKey = certFor(t, dir, "code.example.com", time.Now().Add(5*24*time.Hour))
	fs = (&Doctor{Config: cfg}).Run(context.Background())
	expect(t, fs, Warn, "tls", "expires on")

	// https public URL, plain-http server, no trusted proxy.
	cfg.HTTP.TLSCert, cfg.HTTP.TLSKey = "", ""
	fs = (&Doctor{Config: cfg}).Run(context.Background())
	expect(t, fs, Fail, "public_url", "trusts no proxy")
	cfg.HTTP.TrustedProxies = []string{"127.0.0.1"}
	fs = (&Doctor{Config: cfg}).Run(context.Background())
	expect(t, fs, OK, "public_url", "https://code.example.com")

	cfg.PublicURL = "http://code.example.com"
	fs = (&Doctor{Config: cfg}).Run(context.Background())
	expect(t, fs, Fail, "public_url", "in the clear")
}
