package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/codeterm/codeterm/internal/certtest"
)

// selfSigned writes a certificate for localhost and 127.0.0.1 and its key.
func selfSigned(t *testing.T) (certFile, keyFile string) {
	return certtest.Write(t, t.TempDir(), time.Now().Add(24*time.Hour), "localhost", "127.0.0.1")
}

// httpsClient trusts certFile only.
func httpsClient(t *testing.T, certFile string) *http.Client {
	t.Helper()
	pemData, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemData)
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 20 * time.Second}
}

// deployment is a running server with a workspace "demo" and a token for
// its owner, for the TLS and reverse-proxy tests.
type deployment struct {
	e       *env
	base    string // as printed by serve
	link    string // the printed login link
	token   string
	wsID    string
	client  *http.Client
	nodeEnv []string
}

func deploy(t *testing.T, cfgYAML string, client *http.Client, nodeEnv ...string) *deployment {
	t.Helper()
	e := newEnv(t)
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte(cfgYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	_, base, link, _ := serveProc(t, e, "--config", cfg)
	e.ok("workspace", "create", "demo", "--owner", "root", "--config", cfg)
	d := &deployment{e: e, base: base, link: link, client: client, nodeEnv: nodeEnv}
	d.token = strings.TrimSpace(e.ok("token", "root", "--config", cfg))
	req, _ := http.NewRequest("GET", base+"/api/workspaces", nil)
	req.Header.Set("Authorization", "Bearer "+d.token)
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var list struct {
		Workspaces []struct{ ID, Name string }
	}
	if err := json.NewDecoder(res.Body).Decode(&list); err != nil || len(list.Workspaces) != 1 {
		t.Fatalf("workspaces: %v %+v", err, list)
	}
	d.wsID = list.Workspaces[0].ID
	return d
}

// reach runs the socket.io-client round trip over each transport and the
// Chromium sign-in against url (the server's, or a proxy's in front of it).
func (d *deployment) reach(t *testing.T, url, link string) {
	t.Helper()
	for _, transport := range []string{"websocket", "polling"} {
		node(t, "../../webbridge/e2e/reach.mjs", append(d.nodeEnv,
			"CODETERM_URL="+url, "TOKEN="+d.token, "WORKSPACE="+d.wsID, "TRANSPORT="+transport)...)
	}
	node(t, "../../web/e2e/reach.mjs", "LINK="+link, "BASE_URL="+url)
}

func node(t *testing.T, script string, env ...string) {
	t.Helper()
	dir, _ := filepath.Abs(filepath.Dir(script))
	_, err1 := os.Stat(filepath.Join(dir, "node_modules"))
	_, err2 := os.Stat(filepath.Join(dir, "..", "node_modules"))
	if err1 != nil && err2 != nil {
		t.Fatalf("no node_modules for %s: run npm ci in webbridge/e2e and web (see README)", script)
	}
	cmd := exec.Command("node", filepath.Base(script))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Env = append(cmd.Env, "NODE_NO_WARNINGS=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node %s %v: %v\n%s", script, env, err, out)
	}
	t.Logf("%s", strings.TrimSpace(string(out)))
}

// With http.tls_cert/tls_key the server speaks only HTTPS: serve prints
// https links, sends HSTS, and socket.io-client (wss and https polling)
// and Chromium connect.
func TestServeTLS(t *testing.T) {
	cert, key := selfSigned(t)
	d := deploy(t, "http:\n  tls_cert: "+cert+"\n  tls_key: "+key+"\n", httpsClient(t, cert), "NODE_EXTRA_CA_CERTS="+cert)
	if !strings.HasPrefix(d.base, "https://127.0.0.1:") || !strings.HasPrefix(d.link, "https://") {
		t.Fatalf("serve printed %q and %q, want https", d.base, d.link)
	}
	res, err := d.client.Get(d.base + "/api/health")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if h := res.Header.Get("Strict-Transport-Security"); !strings.Contains(h, "max-age=") {
		t.Fatalf("no HSTS over TLS: %q", h)
	}
	if res.TLS == nil || res.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("tls state %+v", res.TLS)
	}
	// Plain HTTP on the TLS port gets nothing useful.
	if res, err := http.Get("http://" + strings.TrimPrefix(d.base, "https://") + "/api/health"); err == nil {
		res.Body.Close()
		if res.StatusCode == http.StatusOK {
			t.Fatal("plain http answered on the TLS port")
		}
	}
	d.reach(t, d.base, d.link)

	// A renewed certificate (certbot's cp) is served without a restart.
	certtest.Write(t, filepath.Dir(cert), time.Now().Add(48*time.Hour), "localhost", "127.0.0.1")
	later := time.Now().Add(time.Minute)
	os.Chtimes(cert, later, later)
	renewed, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", strings.TrimPrefix(d.base, "https://"), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if !bytes.Equal(conn.ConnectionState().PeerCertificates[0].Raw, renewed.Certificate[0]) {
		t.Fatal("the server still presents the old certificate")
	}
}
