package main

import (
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// doctor on a running server finds it on loopback; on a broken config it
// names the problems and exits 1.
func TestDoctor(t *testing.T) {
	e := newEnv(t)
	_, base, _, out := serveProc(t, e)
	u, _ := url.Parse(base)
	sshPort := regexp.MustCompile(`ssh -p (\d+) `).FindStringSubmatch(out.String())[1]
	got, _, code := e.run("doctor", "--http-addr", u.Host, "--ssh-addr", "127.0.0.1:"+sshPort)
	for _, want := range []string{"ok   reachable  http answers on http://" + u.Host, "ok   reachable  ssh answers", "ok   data dir"} {
		if !strings.Contains(got, want) {
			t.Errorf("doctor on a running server lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "FAIL") != (code == 1) {
		t.Errorf("exit %d with:\n%s", code, got)
	}

	os.Chmod(e.data, 0o755)
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfg, []byte("public_url: http://code.example.com\nhttp:\n  addr: 0.0.0.0:1\n"), 0o600)
	got, _, code = e.run("doctor", "--config", cfg)
	if code != 1 {
		t.Errorf("doctor on a broken set-up: exit %d", code)
	}
	for _, want := range []string{"FAIL data dir", "chmod 700", "FAIL listen     http.addr 0.0.0.0:1", "FAIL public_url http://code.example.com is plain http"} {
		if !strings.Contains(got, want) {
			t.Errorf("broken set-up: no %q in:\n%s", want, got)
		}
	}
}
