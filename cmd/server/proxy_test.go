package main

import (
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// freePort is a loopback port nobody listened on a moment ago, for the
// proxies, which cannot report a port they picked themselves.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// docConfig reads a documented proxy configuration and makes the listed
// replacements, each of which must apply, so the file and the test stay
// in step.
func docConfig(t *testing.T, name string, repl ...string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", "proxy", name))
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	for i := 0; i+1 < len(repl); i += 2 {
		if !strings.Contains(s, repl[i]) {
			t.Fatalf("docs/proxy/%s no longer contains %q", name, repl[i])
		}
		s = strings.ReplaceAll(s, repl[i], repl[i+1])
	}
	return s
}

// startProxy runs cmd until the test ends and waits until url answers
// codeterm's health check through it.
func startProxy(t *testing.T, cmd *exec.Cmd, health string, client *http.Client) {
	t.Helper()
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	// nginx's workers are children of its master: end the whole group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-exited:
			t.Fatalf("%s exited: %s", cmd.Path, out)
		default:
		}
		res, err := client.Get(health)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no answer on %s: %v\n%s", cmd.Path, health, err, out)
		}
		time.Sleep(50 * time.Millisecond) // polling a port, not waiting for output
	}
}

// behindProxy is codeterm trusting loopback proxies, the proxy's https
// origin, the login link moved onto it, and the certificate the proxy uses.
type behindProxy struct {
	d                *deployment
	upstream, origin string
	cert, key        string
	port             int
	client           *http.Client
}

func newBehindProxy(t *testing.T, tool string) *behindProxy {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Fatalf("%s is required for the reverse-proxy tests: apt-get install %s", tool, tool)
	}
	cert, key := selfSigned(t)
	d := deploy(t, "http:\n  trusted_proxies: [127.0.0.1, \"::1\"]\n", http.DefaultClient, "NODE_EXTRA_CA_CERTS="+cert)
	b := &behindProxy{d: d, cert: cert, key: key, port: freePort(t), client: httpsClient(t, cert)}
	u, _ := url.Parse(d.base)
	b.upstream = u.Host
	b.origin = "https://127.0.0.1:" + strconv.Itoa(b.port)
	return b
}

func (b *behindProxy) reach(t *testing.T) {
	t.Helper()
	link, _ := url.Parse(b.d.link)
	b.d.reach(t, b.origin, b.origin+link.RequestURI())
	// The proxy says https: the page gets HSTS through it.
	res, err := b.client.Get(b.origin + "/api/health")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.Header.Get("Strict-Transport-Security") == "" {
		t.Fatal("no HSTS through the TLS proxy: X-Forwarded-Proto not passed or not believed")
	}
}

// docs/proxy/nginx.conf in front of codeterm: WebSocket upgrades,
// long-polling and the page, over TLS at the proxy.
func TestProxyNginx(t *testing.T) {
	b := newBehindProxy(t, "nginx")
	dir := t.TempDir()
	site := filepath.Join(dir, "codeterm.conf")
	os.WriteFile(site, []byte(docConfig(t, "nginx.conf",
		"listen 443 ssl;", "listen 127.0.0.1:"+strconv.Itoa(b.port)+" ssl;",
		"listen [::]:443 ssl;", "",
		"listen 80;", "listen 127.0.0.1:"+strconv.Itoa(freePort(t))+";",
		"listen [::]:80;", "",
		"/etc/ssl/codeterm/fullchain.pem", b.cert,
		"/etc/ssl/codeterm/privkey.pem", b.key,
		"127.0.0.1:8080", b.upstream,
	)), 0o644)
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // workers read the test's 0700 temporary dirs
	}
	main := filepath.Join(dir, "nginx.conf")
	os.WriteFile(main, []byte(user+`
worker_processes 1;
pid `+dir+`/nginx.pid;
error_log stderr warn;
events {}
http {
  access_log off;
  client_body_temp_path `+dir+`/body;
  proxy_temp_path `+dir+`/proxy;
  fastcgi_temp_path `+dir+`/fastcgi;
  uwsgi_temp_path `+dir+`/uwsgi;
  scgi_temp_path `+dir+`/scgi;
  include `+site+`;
}
`), 0o644)
	startProxy(t, exec.Command("nginx", "-p", dir, "-c", main, "-e", "stderr", "-g", "daemon off;"), b.origin+"/api/health", b.client)
	b.reach(t)
}

// docs/proxy/Caddyfile in front of codeterm, the same way.
func TestProxyCaddy(t *testing.T) {
	b := newBehindProxy(t, "caddy")
	dir := t.TempDir()
	file := filepath.Join(dir, "Caddyfile")
	// No admin endpoint and no redirect listener on :80: several test
	// runs share the machine.
	global := "{\n\tadmin off\n\tauto_https disable_redirects\n}\n"
	os.WriteFile(file, []byte(global+docConfig(t, "Caddyfile",
		"code.example.com {", b.origin+" {\n\ttls "+b.cert+" "+b.key,
		"127.0.0.1:8080", b.upstream,
	)), 0o644)
	cmd := exec.Command("caddy", "run", "--config", file, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir+"/data", "XDG_CONFIG_HOME="+dir+"/config")
	startProxy(t, cmd, b.origin+"/api/health", b.client)
	b.reach(t)
}
