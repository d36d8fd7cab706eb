package config

import (
	"os"
	"strings"
	"testing"
)

func TestConfigChecksTLS(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{[]string{"CODETERM_HTTP_TLS_CERT=/c"}, "set both or neither"},
		{[]string{"CODETERM_HTTP_ACME=true", "CODETERM_PUBLIC_URL=http://code.example.com"}, "public_url must be https"},
		{[]string{"CODETERM_HTTP_ACME=true", "CODETERM_PUBLIC_URL=https://10.0.0.1"}, "public_url must be https"},
		{[]string{"CODETERM_HTTP_ACME=true", "CODETERM_PUBLIC_URL=https://a.example", "CODETERM_HTTP_TLS_CERT=/c", "CODETERM_HTTP_TLS_KEY=/k"}, "choose one"},
		{[]string{"CODETERM_HTTP_TRUSTED_PROXIES=10.0.0.0/8,bogus"}, `got "bogus"`},
	} {
		_, err := Load("", tc.env, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.env, err, tc.want)
		}
	}
	c, err := Load("", []string{"CODETERM_HTTP_TRUSTED_PROXIES=10.0.0.0/8, ::1"}, nil)
	if err != nil || len(c.HTTP.Proxies()) != 2 || c.HTTP.Proxies()[1].Bits() != 128 {
		t.Fatalf("trusted proxies: %v %v", err, c)
	}
}

func TestFileOrSystem(t *testing.T) {
	dir := t.TempDir()
	system := dir + "/config.yaml"
	if got := FileOrSystem("", system); got != "" {
		t.Fatalf("no system file: %q", got)
	}
	os.WriteFile(system, []byte("data_dir: /x\n"), 0o644)
	if got := FileOrSystem("", system); got != system {
		t.Fatalf("system file: %q", got)
	}
	if got := FileOrSystem("mine.yaml", system); got != "mine.yaml" {
		t.Fatalf("--config: %q", got)
	}
}
