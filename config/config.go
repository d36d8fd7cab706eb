// Package config holds codeterm's settings and loads them with the precedence
// flags > environment (CODETERM_*) > file > defaults. Every setting has a
// working default, so serve needs no file at all.
package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"time"
)

// Config is every setting. The yaml tags are the keys of the file; the
// environment variable of a key is CODETERM_ followed by its dotted path in
// upper case with dots as underscores (sessions.ring_bytes → CODETERM_SESSIONS_RING_BYTES).
type Config struct {
	DataDir    string     `yaml:"data_dir"`
	PublicURL  string     `yaml:"public_url" check:"url"`
	Log        Log        `yaml:"log"`
	SSH        SSH        `yaml:"ssh"`
	HTTP       HTTP       `yaml:"http"`
	Auth       Auth       `yaml:"auth"`
	Sessions   Sessions   `yaml:"sessions"`
	Workspaces Workspaces `yaml:"workspaces"`
	GitHub     GitHub     `yaml:"github"`
	Security   Security   `yaml:"security"`
	Limits     Limits     `yaml:"limits"`
	Files      Files      `yaml:"files"`
}

// Log configures log/slog output.
type Log struct {
	Level  string `yaml:"level" check:"oneof=debug|info|warn|error"`
	Format string `yaml:"format" check:"oneof=text|json"`
}

// SSH configures the SSH front-end.
type SSH struct {
	Addr                  string        `yaml:"addr" check:"hostport"`
	Host                  string        `yaml:"host"`
	KeepaliveInterval     time.Duration `yaml:"keepalive_interval" check:"positive"`
	KeepaliveMax          int           `yaml:"keepalive_max" check:"positive"`
	AuthFailuresPerMinute int           `yaml:"auth_failures_per_minute" check:"positive"`
	UserHomes             bool          `yaml:"user_homes"`
	AuthFailureMaxDelay   time.Duration `yaml:"auth_failure_max_delay" check:"positive"`
	MaxChannels           int           `yaml:"max_channels" check:"positive"`
}

// HTTP configures the web front-end and the Socket.IO bridge.
type HTTP struct {
	Addr            string        `yaml:"addr" check:"hostport"`
	PingInterval    time.Duration `yaml:"ping_interval" check:"positive"`
	PingTimeout     time.Duration `yaml:"ping_timeout" check:"positive"`
	MaxPayload      int           `yaml:"max_payload" check:"positive"`
	Compression     bool          `yaml:"compression"`
	EventsPerSecond int           `yaml:"events_per_second" check:"positive"`
	// MaxUnauthenticated bounds the Socket.IO connections that have not
	// authenticated yet; ConnectTimeout is how long one may take to.
	MaxUnauthenticated int           `yaml:"max_unauthenticated" check:"positive"`
	ConnectTimeout     time.Duration `yaml:"connect_timeout" check:"positive"`
	// MetricsAddr serves Prometheus metrics at /metrics on a listener of
	// its own ("" = none); MetricsToken serves them on the main port to
	// requests with "Authorization: Bearer TOKEN" ("" = not there).
	MetricsAddr  string `yaml:"metrics_addr"`
	MetricsToken string `yaml:"metrics_token" secret:"true"`
	// PreviewDomain is the domain under which each forwarded port of a
	// workspace gets an origin of its own: PORT--WORKSPACE--USER.<domain>.
	PreviewDomain string `yaml:"preview_domain"`
	// PollGrace is how long a long-polling client may take to send its next
	// GET before it is taken to have vanished and released.
	PollGrace time.Duration `yaml:"poll_grace" check:"positive"`
	// TLSCert and TLSKey are PEM files; set, the server speaks only HTTPS
	// and re-reads them when they change.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// ACME gets certificates for public_url's host name from Let's Encrypt
	// (or ACMEDirectory), cached under data_dir/acme. Without ACMEHTTPAddr
	// only the TLS-ALPN-01 challenge on http.addr (port 443) can succeed.
	ACME          bool   `yaml:"acme"`
	ACMEEmail     string `yaml:"acme_email"`
	ACMEHTTPAddr  string `yaml:"acme_http_addr"`
	ACMEDirectory string `yaml:"acme_directory" check:"url"`
	// TrustedProxies are the CIDRs whose X-Forwarded-For, -Proto and -Host
	// headers are believed.
	TrustedProxies []string `yaml:"trusted_proxies" check:"cidrs"`
}

// TLS tells whether the HTTP server itself speaks HTTPS.
func (h HTTP) TLS() bool { return h.TLSCert != "" || h.ACME }

// Proxies parses TrustedProxies (checked by Load); a lone address is a /32 or /128.
func (h HTTP) Proxies() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range h.TrustedProxies {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
		} else if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	return out
}

// Auth configures tokens and login codes.
type Auth struct {
	TokenTTL        time.Duration `yaml:"token_ttl" check:"positive"`
	LoginCodeTTL    time.Duration `yaml:"login_code_ttl" check:"positive"`
	LoginsPerMinute int           `yaml:"logins_per_minute" check:"positive"`
}

// Sessions configures the session core.
type Sessions struct {
	RingBytes       int           `yaml:"ring_bytes" check:"positive"`
	Scrollback      int           `yaml:"scrollback" check:"nonnegative"`
	QueueBytes      int           `yaml:"queue_bytes" check:"positive"`
	StallTimeout    time.Duration `yaml:"stall_timeout" check:"positive"`
	MaxPerUser      int           `yaml:"max_per_user" check:"positive"`
	MaxPerWorkspace int           `yaml:"max_per_workspace" check:"positive"`
	MaxInputBytes   int           `yaml:"max_input_bytes" check:"positive"`
	IdleTimeout     time.Duration `yaml:"idle_timeout" check:"nonnegative"`
	KillGrace       time.Duration `yaml:"kill_grace" check:"positive"`
	Record          bool          `yaml:"record"`
	// RecordInput adds input markers to recordings (off: input holds
	// passwords).
	RecordInput bool `yaml:"record_input"`
	// ShellIntegration makes bash, zsh and fish report each command's
	// start, end and exit status (command-started, command-finished).
	ShellIntegration bool `yaml:"shell_integration"`
	// Command, if set, runs in place of the user's login shell in a
	// session that asks for no shell (tmux's default-command): argv, the
	// first an absolute path. Such a session has no shell integration.
	Command []string `yaml:"command"`
}

// Workspaces configures the workspace registry and file watching.
type Workspaces struct {
	Ignore            []string `yaml:"ignore"`
	AllowPrivateHosts bool     `yaml:"allow_private_hosts"`
}

// Files configures browsing, editing, uploading and downloading workspace
// files from the browser.
type Files struct {
	MaxReadBytes     int           `yaml:"max_read_bytes" check:"positive"`
	MaxUploadBytes   int           `yaml:"max_upload_bytes" check:"positive"`
	MaxInFlightBytes int           `yaml:"max_inflight_bytes" check:"positive"`
	UploadIdle       time.Duration `yaml:"upload_idle" check:"positive"`
}

// GitHub configures OAuth login and repository listing; empty ClientID turns it off.
type GitHub struct {
	ClientID     string   `yaml:"client_id"`
	ClientSecret string   `yaml:"client_secret" secret:"true"`
	APIURL       string   `yaml:"api_url" check:"url"`
	WebURL       string   `yaml:"web_url" check:"url"`
	AllowedUsers []string `yaml:"allowed_users"`
}

// Security configures how users are kept apart by the OS.
type Security struct {
	// Isolation: auto (accounts when the server runs as root, else
	// single), accounts, single or shared.
	Isolation string `yaml:"isolation" check:"oneof=auto|accounts|single|shared"`
}

// Limits are resource limits per user, enforced with cgroups where the
// server may write them (0 is unlimited), and the server's own memory.
type Limits struct {
	Memory int `yaml:"memory" check:"nonnegative"` // bytes
	Pids   int `yaml:"pids" check:"nonnegative"`   // processes and threads
	// ServerMemory is the server's own soft memory limit in bytes (the Go
	// runtime collects harder near it; 0: none, or GOMEMLIMIT). ServerIdle
	// is how long the server must be quiet after a burst before the memory
	// the burst freed goes back to the system (0: never).
	ServerMemory int           `yaml:"server_memory" check:"nonnegative"`
	ServerIdle   time.Duration `yaml:"server_idle" check:"nonnegative"`
	// ServerGCPercent is how far the server's heap may grow past its live
	// data before the collector runs (Go's GOGC; a GOGC in the environment
	// wins). The heap's highest point stays resident in spans that idle
	// sessions' objects keep in use, so a lower value is a smaller server
	// for every idle session, for some more collection CPU under load.
	ServerGCPercent int `yaml:"server_gc_percent" check:"positive"`
}

// Default returns the built-in settings.
func Default() *Config {
	return &Config{
		DataDir: defaultDataDir(),
		Log:     Log{Level: "info", Format: "text"},
		SSH: SSH{
			Addr:                  "127.0.0.1:2222",
			KeepaliveInterval:     15 * time.Second,
			KeepaliveMax:          3,
			AuthFailuresPerMinute: 10,
			AuthFailureMaxDelay:   10 * time.Second,
			MaxChannels:           64,
		},
		HTTP: HTTP{
			Addr:               "127.0.0.1:8080",
			PingInterval:       25 * time.Second,
			PingTimeout:        20 * time.Second,
			MaxPayload:         1_000_000,
			Compression:        true,
			EventsPerSecond:    200,
			MaxUnauthenticated: 256,
			ConnectTimeout:     10 * time.Second,
			PreviewDomain:      "localhost",
			PollGrace:          5 * time.Second,
		},
		Auth: Auth{
			TokenTTL:        7 * 24 * time.Hour,
			LoginCodeTTL:    10 * time.Minute,
			LoginsPerMinute: 10,
		},
		Sessions: Sessions{
			RingBytes:       2 << 20,
			Scrollback:      1000,
			QueueBytes:      1 << 20,
			StallTimeout:    10 * time.Second,
			MaxPerUser:      64,
			MaxPerWorkspace: 16,
			MaxInputBytes:   64 << 10,
			KillGrace:       5 * time.Second,

			ShellIntegration: true,
		},
		Workspaces: Workspaces{Ignore: []string{".git", "node_modules", "target", "dist", ".venv"}},
		GitHub: GitHub{
			APIURL: "https://api.github.com/",
			WebURL: "https://github.com/",
		},
		Security: Security{Isolation: "auto"},
		Limits:   Limits{ServerIdle: 10 * time.Second, ServerGCPercent: 20},
		Files: Files{
			MaxReadBytes:     8 << 20,
			MaxUploadBytes:   4 << 30,
			MaxInFlightBytes: 8 << 30,
			UploadIdle:       time.Hour,
		},
	}
}

// defaultDataDir follows the XDG base directory spec for a normal user.
// For root it is /var/lib/codeterm unless XDG_DATA_HOME says otherwise:
// root's HOME is mode 0700, and per-user OS accounts (root's isolation by
// default) must pass through the data dir to their workspaces.
func defaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "codeterm")
	}
	if os.Geteuid() == 0 {
		return "/var/lib/codeterm"
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "codeterm-data"
	}
	return filepath.Join(home, ".local", "share", "codeterm")
}
