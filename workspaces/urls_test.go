package workspaces

import (
	"errors"
	"strings"
	"testing"
)

func TestParseRemoteAccepted(t *testing.T) {
	tests := []struct {
		in, clean      string
		ssh            bool
		user, password string
	}{
		{"https://github.com/octocat/hello.git", "https://github.com/octocat/hello.git", false, "", ""},
		{"http://127.0.0.1:8080/r.git", "http://127.0.0.1:8080/r.git", false, "", ""},
		{"HTTPS://host/x", "https://host/x", false, "", ""},
		{"https://bob:s3cret@host/o/r.git", "https://host/o/r.git", false, "bob", "s3cret"},
		{"https://ghp_TOKEN@host/o/r.git", "https://host/o/r.git", false, "ghp_TOKEN", ""},
		{"ssh://git@host:2222/o/r.git", "ssh://git@host:2222/o/r.git", true, "git", ""},
		{"ssh://git:pw@host/o/r.git", "ssh://git@host/o/r.git", true, "git", "pw"},
		{"git@github.com:owner/repo.git", "git@github.com:owner/repo.git", true, "git", ""},
		{"host.example:repo", "host.example:repo", true, "", ""},
	}
	for _, tt := range tests {
		r, err := parseRemote(tt.in)
		if err != nil {
			t.Errorf("parseRemote(%q) = %v", tt.in, err)
			continue
		}
		if r.clean != tt.clean || r.ssh != tt.ssh || r.user != tt.user || r.password != tt.password {
			t.Errorf("parseRemote(%q) = %+v, want clean=%q ssh=%v user=%q password=%q", tt.in, r, tt.clean, tt.ssh, tt.user, tt.password)
		}
	}
}

func TestParseRemoteRefused(t *testing.T) {
	for _, in := range []string{
		"", "file:///etc", "FILE:///x", "/local/path", "./rel", "../up", "relative/dir",
		"ext::sh -c touch% /tmp/pwned", "ext::sh", "ftp://host/r.git", "git://host/r.git",
		"fd::17", "https://", "https:///path", "https://host", "https://host/", "ssh://-oProxyCommand=x/r",
		"git@host::x", "git@host:-opt", "C:foo", "https://host/a b", "https://host/a\nb",
	} {
		_, err := parseRemote(in)
		if !errors.Is(err, ErrInvalidURL) {
			t.Errorf("parseRemote(%q) = %v, want ErrInvalidURL", in, err)
		} else if Code(err) != "INVALID_URL" {
			t.Errorf("Code = %q", Code(err))
		}
	}
}

func TestRefusedURLNeverEchoesPassword(t *testing.T) {
	_, err := parseRemote("gopher://user:hunter2@host/x")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("err = %v", err)
	}
	if got := RedactURL("https://user:hunter2@host/x"); strings.Contains(got, "hunter2") || strings.Contains(got, "user") {
		t.Errorf("RedactURL = %q", got)
	}
	if got := RedactURL("https://user:hunter2@host/%zz"); strings.Contains(got, "hunter2") {
		t.Errorf("RedactURL(unparsable) = %q", got)
	}
}
