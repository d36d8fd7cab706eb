// Package doctor checks a codeterm installation and says, one line per
// check, what is wrong and how to fix it.
package doctor

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/codeterm/codeterm/config"
)

// Level grades a finding.
type Level int

const (
	OK Level = iota
	Warn
	Fail
)

func (l Level) String() string {
	return [...]string{"ok", "warn", "FAIL"}[l]
}

// Finding is the outcome of one check.
type Finding struct {
	Check   string
	Level   Level
	Message string
	Fix     string // empty when there is nothing to do
}

func (f Finding) String() string {
	s := fmt.Sprintf("%-4s %-10s %s", f.Level, f.Check, f.Message)
	if f.Fix != "" {
		s += " — fix: " + f.Fix
	}
	return s
}

// Doctor runs the checks on a configuration.
type Doctor struct {
	Config *config.Config
	// MinFreeBytes is the free space the data dir's file system should keep
	// (default 1 GiB).
	MinFreeBytes uint64
	// LookPath finds programs (default exec.LookPath).
	LookPath func(string) (string, error)
	// Euid is the effective user id (default os.Geteuid()).
	Euid int
	// Now is the time certificates are checked against (default time.Now).
	Now func() time.Time
}

func (d *Doctor) defaults() {
	if d.MinFreeBytes == 0 {
		d.MinFreeBytes = 1 << 30
	}
	if d.LookPath == nil {
		d.LookPath = exec.LookPath
	}
	if d.Now == nil {
		d.Now = time.Now
	}
}

// Run runs every check and returns the findings in a stable order.
func (d *Doctor) Run(ctx context.Context) []Finding {
	d.defaults()
	var out []Finding
	add := func(fs ...Finding) { out = append(out, fs...) }
	add(d.isolation())
	add(d.dataDir()...)
	add(d.disk())
	add(d.listen()...)
	add(d.publicURL()...)
	add(d.tls()...)
	add(d.clock())
	add(d.programs()...)
	add(d.reachable(ctx)...)
	return out
}

// Write prints the findings, one a line, and reports whether any failed.
func Write(w io.Writer, fs []Finding) (failed bool) {
	for _, f := range fs {
		fmt.Fprintln(w, f)
		failed = failed || f.Level == Fail
	}
	return failed
}

func (d *Doctor) isolation() Finding {
	var missing []string
	if d.Euid != 0 {
		missing = append(missing, "the server is not root")
	}
	if _, err := d.LookPath("useradd"); err != nil {
		missing = append(missing, "no useradd (apt-get install passwd)")
	}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err != nil {
		missing = append(missing, "no cgroup v2 at /sys/fs/cgroup (no per-user resource limits)")
	}
	if len(missing) == 0 {
		return Finding{"isolation", OK, "per-user OS accounts are possible (root, useradd, cgroup v2)", ""}
	}
	return Finding{"isolation", Warn, "per-user OS accounts are not possible: " + strings.Join(missing, "; ") +
		"; every codeterm user then shares one OS account and can read the others' files",
		"run the server as root (the Debian package's unit does) on a host with useradd and cgroup v2, or keep to one user"}
}

func (d *Doctor) dataDir() []Finding {
	dir := d.Config.DataDir
	fi, err := os.Stat(dir)
	if err != nil {
		return []Finding{{"data dir", Warn, err.Error(), "serve creates it on first start; check data_dir"}}
	}
	var out []Finding
	if fi.Mode().Perm()&0o077 != 0 {
		out = append(out, Finding{"data dir", Fail, fmt.Sprintf("%s has mode %o: others can read the database and secrets", dir, fi.Mode().Perm()),
			"chmod 700 " + dir})
	}
	for _, name := range []string{"jwt.secret", "ssh_host_ed25519_key", "codeterm.db"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().Perm()&0o077 != 0 {
			out = append(out, Finding{"data dir", Fail, fmt.Sprintf("%s has mode %o", p, fi.Mode().Perm()), "chmod 600 " + p})
		}
	}
	if len(out) == 0 {
		out = append(out, Finding{"data dir", OK, dir + " is private (0700, secrets 0600)", ""})
	}
	return out
}

func (d *Doctor) disk() Finding {
	dir := d.Config.DataDir
	for {
		if _, err := os.Stat(dir); err == nil || dir == filepath.Dir(dir) {
			break
		}
		dir = filepath.Dir(dir)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return Finding{"disk", Warn, fmt.Sprintf("free space of %s unknown: %v", dir, err), ""}
	}
	free := st.Bavail * uint64(st.Bsize)
	msg := fmt.Sprintf("%.1f GiB free for %s", float64(free)/(1<<30), dir)
	if free < d.MinFreeBytes {
		return Finding{"disk", Fail, msg + fmt.Sprintf(" (under %.1f GiB: the database and workspaces will fail to write)", float64(d.MinFreeBytes)/(1<<30)),
			"free space there or move data_dir to a larger file system"}
	}
	return Finding{"disk", OK, msg, ""}
}

func allAddresses(addr string) bool {
	host, _, _ := net.SplitHostPort(addr)
	return host == "" || host == "0.0.0.0" || host == "::"
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (d *Doctor) listen() []Finding {
	c := d.Config
	var out []Finding
	switch {
	case allAddresses(c.HTTP.Addr) && !c.HTTP.TLS():
		out = append(out, Finding{"listen", Fail, "http.addr " + c.HTTP.Addr + " is on every address over plain http: login links and tokens cross the network in the clear",
			"set http.tls_cert/tls_key or http.acme, or keep http.addr on 127.0.0.1 behind a TLS proxy (docs/OPERATIONS.md)"})
	case allAddresses(c.HTTP.Addr):
		out = append(out, Finding{"listen", OK, "http.addr " + c.HTTP.Addr + " on every address, over TLS", ""})
	default:
		out = append(out, Finding{"listen", OK, "http.addr " + c.HTTP.Addr, ""})
	}
	host, _, _ := net.SplitHostPort(c.SSH.Addr)
	if loopback(host) {
		out = append(out, Finding{"listen", Warn, "ssh.addr " + c.SSH.Addr + " is loopback only: ssh from other machines cannot connect",
			"set ssh.addr to :2222 (or the server's address) when people connect from elsewhere"})
	} else {
		out = append(out, Finding{"listen", OK, "ssh.addr " + c.SSH.Addr, ""})
	}
	return out
}

func (d *Doctor) publicURL() []Finding {
	c := d.Config
	httpHost, _, _ := net.SplitHostPort(c.HTTP.Addr)
	if c.PublicURL == "" {
		if loopback(httpHost) {
			return []Finding{{"public_url", OK, "empty: browsers on this machine use http://" + c.HTTP.Addr, ""}}
		}
		return []Finding{{"public_url", Fail, "empty while http.addr is " + c.HTTP.Addr + ": login links name an address browsers elsewhere do not use, and their Host is refused",
			"set public_url to the address people type, e.g. https://code.example.com"}}
	}
	u, _ := url.Parse(c.PublicURL)
	var out []Finding
	if u.Scheme == "https" && !c.HTTP.TLS() && len(c.HTTP.TrustedProxies) == 0 {
		out = append(out, Finding{"public_url", Fail, c.PublicURL + " is https but this server speaks plain http and trusts no proxy: the browser's https Origin is refused",
			"set http.trusted_proxies to the TLS proxy's address, or http.tls_cert/tls_key"})
	}
	if u.Scheme == "http" && !loopback(u.Hostname()) {
		out = append(out, Finding{"public_url", Fail, c.PublicURL + " is plain http on a network address: tokens cross the network in the clear",
			"serve https (http.tls_cert, http.acme or a TLS proxy) and set public_url to https://..."})
	}
	if c.HTTP.TLS() && u.Scheme != "https" {
		out = append(out, Finding{"public_url", Fail, c.PublicURL + " is http but the server speaks only https", "write public_url with https://"})
	}
	if !loopback(u.Hostname()) && loopback(httpHost) && len(c.HTTP.TrustedProxies) == 0 && !c.HTTP.TLS() {
		out = append(out, Finding{"public_url", Warn, "http.addr " + c.HTTP.Addr + " is loopback only: " + c.PublicURL + " works only through a reverse proxy, whose X-Forwarded-* are ignored",
			"put a proxy in front (docs/proxy/) and list it in http.trusted_proxies"})
	}
	if len(out) == 0 {
		out = append(out, Finding{"public_url", OK, c.PublicURL, ""})
	}
	return out
}

func (d *Doctor) tls() []Finding {
	c := d.Config
	if c.HTTP.ACME {
		return []Finding{{"tls", OK, "certificates from ACME for " + c.PublicURL + ", cached in " + filepath.Join(c.DataDir, "acme"), ""}}
	}
	if c.HTTP.TLSCert == "" {
		return []Finding{{"tls", OK, "off: plain http (fine on loopback or behind a TLS proxy)", ""}}
	}
	pair, err := tls.LoadX509KeyPair(c.HTTP.TLSCert, c.HTTP.TLSKey)
	if err != nil {
		return []Finding{{"tls", Fail, fmt.Sprintf("certificate %s / key %s do not load: %v", c.HTTP.TLSCert, c.HTTP.TLSKey, err),
			"point http.tls_cert and http.tls_key at a PEM certificate chain and its key"}}
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return []Finding{{"tls", Fail, fmt.Sprintf("certificate %s: %v", c.HTTP.TLSCert, err), "use a valid certificate"}}
	}
	var out []Finding
	now := d.Now()
	switch left := leaf.NotAfter.Sub(now); {
	case left <= 0:
		out = append(out, Finding{"tls", Fail, fmt.Sprintf("certificate %s expired on %s", c.HTTP.TLSCert, leaf.NotAfter.Format(time.DateOnly)),
			"renew it (certbot renew); the server picks the new files up by itself"})
	case left < 14*24*time.Hour:
		out = append(out, Finding{"tls", Warn, fmt.Sprintf("certificate %s expires on %s", c.HTTP.TLSCert, leaf.NotAfter.Format(time.DateOnly)), "renew it"})
	}
	if u, err := url.Parse(c.PublicURL); err == nil && u.Hostname() != "" {
		if err := leaf.VerifyHostname(u.Hostname()); err != nil {
			out = append(out, Finding{"tls", Fail, fmt.Sprintf("certificate %s is not for %s (public_url): %v", c.HTTP.TLSCert, u.Hostname(), err),
				"get a certificate for " + u.Hostname()})
		}
	}
	if len(out) == 0 {
		out = append(out, Finding{"tls", OK, fmt.Sprintf("certificate %s valid until %s", c.HTTP.TLSCert, leaf.NotAfter.Format(time.DateOnly)), ""})
	}
	return out
}

// clock can only hint: whether the clock is right needs a time source.
func (d *Doctor) clock() Finding {
	if out, err := exec.Command("timedatectl", "show", "-p", "NTPSynchronized", "--value").Output(); err == nil {
		if strings.TrimSpace(string(out)) == "yes" {
			return Finding{"clock", OK, "synchronized (timedatectl)", ""}
		}
		return Finding{"clock", Warn, "not synchronized (timedatectl): tokens and login links carry times, a wrong clock expires them early or late",
			"enable time sync: timedatectl set-ntp true (or install chrony)"}
	}
	return Finding{"clock", Warn, "sync state unknown (no timedatectl): tokens and login links carry times",
		"make sure the clock is synchronized (chrony or systemd-timesyncd)"}
}

func (d *Doctor) programs() []Finding {
	var out []Finding
	if p, err := d.LookPath("git"); err != nil {
		out = append(out, Finding{"programs", Fail, "git not found: workspaces cannot be cloned, synced or shown", "apt-get install git"})
	} else {
		out = append(out, Finding{"programs", OK, "git: " + p, ""})
	}
	var shells []string
	for _, sh := range []string{"bash", "sh", "zsh", "fish"} {
		if _, err := d.LookPath(sh); err == nil {
			shells = append(shells, sh)
		}
	}
	switch {
	case len(shells) == 0:
		out = append(out, Finding{"programs", Fail, "no shell found (bash, sh, zsh, fish): terminals cannot start", "apt-get install bash"})
	case !strings.Contains(" "+strings.Join(shells, " ")+" ", " bash "):
		out = append(out, Finding{"programs", Warn, "shells: " + strings.Join(shells, ", ") + "; no bash, the usual default", "apt-get install bash"})
	default:
		out = append(out, Finding{"programs", OK, "shells: " + strings.Join(shells, ", "), ""})
	}
	return out
}

// reachable connects to the configured addresses on loopback, as a local
// client or proxy would, and asks the HTTP side for its health.
func (d *Doctor) reachable(ctx context.Context) []Finding {
	c := d.Config
	var out []Finding
	for _, a := range []struct{ name, addr string }{{"ssh", c.SSH.Addr}, {"http", c.HTTP.Addr}} {
		_, port, _ := net.SplitHostPort(a.addr)
		host, _, _ := net.SplitHostPort(a.addr)
		if allAddresses(a.addr) || loopback(host) {
			host = "127.0.0.1"
		}
		target := net.JoinHostPort(host, port)
		conn, err := (&net.Dialer{Timeout: 2 * time.Second}).DialContext(ctx, "tcp", target)
		if err != nil {
			out = append(out, Finding{"reachable", Warn, fmt.Sprintf("%s %s: %v", a.name, target, err),
				"start the server (codeterm serve, or systemctl start codeterm); if it runs, check " + a.name + ".addr"})
			continue
		}
		conn.Close()
		if a.name == "http" {
			out = append(out, d.health(ctx, target))
			continue
		}
		out = append(out, Finding{"reachable", OK, fmt.Sprintf("%s answers on %s", a.name, target), ""})
	}
	return out
}

func (d *Doctor) health(ctx context.Context, target string) Finding {
	scheme := "http"
	tr := &http.Transport{}
	if d.Config.HTTP.TLS() {
		// Loopback by IP: the certificate names the public host.
		scheme, tr.TLSClientConfig = "https", &tls.Config{InsecureSkipVerify: true}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", scheme+"://"+target+"/api/health", nil)
	res, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return Finding{"reachable", Fail, fmt.Sprintf("http %s accepts connections but %s://%s/api/health fails: %v", target, scheme, target, err),
			"another program holds the port, or http.tls_* differ from the running server's"}
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return Finding{"reachable", Fail, fmt.Sprintf("http %s/api/health answers %s", target, res.Status), "another program holds the port?"}
	}
	return Finding{"reachable", OK, fmt.Sprintf("http answers on %s://%s", scheme, target), ""}
}
