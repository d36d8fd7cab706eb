package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultsWithoutFile(t *testing.T) {
	c, err := Load("", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Addr != "127.0.0.1:8080" || c.SSH.Addr != "127.0.0.1:2222" {
		t.Fatalf("default addrs: %q %q", c.HTTP.Addr, c.SSH.Addr)
	}
	if c.Sessions.RingBytes != 2<<20 {
		t.Fatalf("ring: %d", c.Sessions.RingBytes)
	}
}

func TestPrecedence(t *testing.T) {
	p := writeFile(t, "http:\n  addr: 127.0.0.1:9001\nssh:\n  addr: 127.0.0.1:9002\nsessions:\n  ring_bytes: 4096\n  idle_timeout: 1h\n")
	env := []string{"CODETERM_SSH_ADDR=127.0.0.1:9003", "CODETERM_SESSIONS_IDLE_TIMEOUT=5m", "CODETERM_NOT_A_KEY=x", "HOME=/x"}
	flags := map[string]string{"ssh.addr": "127.0.0.1:9004"}
	c, err := Load(p, env, flags)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Addr != "127.0.0.1:9001" {
		t.Errorf("file should set http.addr, got %q", c.HTTP.Addr)
	}
	if c.SSH.Addr != "127.0.0.1:9004" {
		t.Errorf("flag should win for ssh.addr, got %q", c.SSH.Addr)
	}
	if c.Sessions.IdleTimeout != 5*time.Minute {
		t.Errorf("env should win over file for idle_timeout, got %v", c.Sessions.IdleTimeout)
	}
	if c.Sessions.RingBytes != 4096 {
		t.Errorf("file should set ring_bytes, got %d", c.Sessions.RingBytes)
	}
	if c.SSH.KeepaliveMax != 3 {
		t.Errorf("untouched key should keep its default, got %d", c.SSH.KeepaliveMax)
	}
}

func TestListValues(t *testing.T) {
	p := writeFile(t, "workspaces:\n  ignore: [.git, build]\n")
	c, err := Load(p, []string{"CODETERM_GITHUB_ALLOWED_USERS=alice, bob"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Workspaces.Ignore, ",") != ".git,build" {
		t.Errorf("ignore: %v", c.Workspaces.Ignore)
	}
	if strings.Join(c.GitHub.AllowedUsers, ",") != "alice,bob" {
		t.Errorf("allowed users: %v", c.GitHub.AllowedUsers)
	}
}

func TestErrors(t *testing.T) {
	cases := []struct {
		name, file string
		env        []string
		flags      map[string]string
		want       []string
	}{
		{name: "unknown key with line", file: "http:\n  addr: 127.0.0.1:1\n  adr: x\n", want: []string{":3:", `unknown key "http.adr"`}},
		{name: "unknown top key", file: "nope: 1\n", want: []string{":1:", `"nope"`}},
		{name: "bad int", file: "sessions:\n  ring_bytes: lots\n", want: []string{":2:", "sessions.ring_bytes", "integer"}},
		{name: "bad duration", file: "auth:\n\n  token_ttl: forever\n", want: []string{":3:", "auth.token_ttl", "duration"}},
		{name: "section not mapping", file: "http: 5\n", want: []string{":1:", "http must be a mapping"}},
		{name: "list expected", file: "workspaces:\n  ignore: x\n", want: []string{":2:", "workspaces.ignore", "list"}},
		{name: "bad yaml", file: "http: [\n", want: []string{"config.yaml"}},
		{name: "bad env", env: []string{"CODETERM_SSH_KEEPALIVE_MAX=three"}, want: []string{"CODETERM_SSH_KEEPALIVE_MAX", "integer"}},
		{name: "bad flag value", flags: map[string]string{"http.addr": "nohost"}, want: []string{"http.addr", "HOST:PORT"}},
		{name: "negative", file: "sessions:\n  max_per_user: 0\n", want: []string{"sessions.max_per_user", "greater than zero"}},
		{name: "oneof", file: "log:\n  level: loud\n", want: []string{"log.level", "debug, info, warn, error"}},
		{name: "url", env: []string{"CODETERM_PUBLIC_URL=ftp://x"}, want: []string{"public_url", "http or https"}},
		{name: "relative command", env: []string{"CODETERM_SESSIONS_COMMAND=bash,--norc"}, want: []string{"sessions.command", "absolute path", `"bash"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := ""
			if tc.file != "" {
				path = writeFile(t, tc.file)
			}
			_, err := Load(path, tc.env, tc.flags)
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestEmptyFile(t *testing.T) {
	if _, err := Load(writeFile(t, ""), nil, nil); err != nil {
		t.Fatal(err)
	}
}

// The example file must document every key with its default value.
func TestExampleDocumentsEveryKey(t *testing.T) {
	example := filepath.Join("..", "config.example.yaml")
	if _, err := Load(example, nil, nil); err != nil {
		t.Fatalf("config.example.yaml does not load: %v", err)
	}
	data, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range Keys() {
		parts := strings.Split(k, ".")
		leaf := parts[len(parts)-1]
		if !strings.Contains(string(data), leaf+":") {
			t.Errorf("config.example.yaml does not document %s", k)
		}
	}
}

func TestExampleHoldsDefaults(t *testing.T) {
	c, err := Load(filepath.Join("..", "config.example.yaml"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := Default()
	if !reflect.DeepEqual(c, d) {
		t.Errorf("config.example.yaml differs from the defaults:\n file %+v\n code %+v", c, d)
	}
}
