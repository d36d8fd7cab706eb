package sshd

import (
	"strings"
	"testing"
)

func TestParseRequest(t *testing.T) {
	for _, c := range []struct {
		login, raw string
		want       request
	}{
		{"alice", "", request{user: "alice", builtin: "list"}},
		{"alice", "  login ", request{user: "alice", builtin: "login"}},
		{"alice", "--help", request{user: "alice", builtin: "help"}},
		{"alice", "demo", request{user: "alice", workspace: "demo"}},
		{"alice", "demo/ab12", request{user: "alice", workspace: "demo", session: "ab12"}},
		{"alice", "demo \t ls -la  ", request{user: "alice", workspace: "demo", command: "ls -la"}},
		{"alice+demo", "git-upload-pack '/x'", request{user: "alice", plain: true, workspace: "demo", command: "git-upload-pack '/x'"}},
		{"alice+demo", "", request{user: "alice", plain: true, workspace: "demo"}},
		{"alice+", "demo", request{user: "alice", workspace: "demo"}},
		{"alice+a+b", "", request{user: "alice", plain: true, workspace: "a+b"}},
		{"bob", "@Ab12", request{user: "bob", shared: "Ab12"}},
		{"bob", "@Ab12 ls", request{user: "bob", workspace: "@Ab12", command: "ls"}},
	} {
		if got := parseRequest(c.login, c.raw); got != c.want {
			t.Errorf("parseRequest(%q, %q) = %+v, want %+v", c.login, c.raw, got, c.want)
		}
	}
}

// FuzzParseRequest: whatever the login name and command line, parsing
// ends, names one thing to do, and never carries blanks into a workspace
// name or around a command.
func FuzzParseRequest(f *testing.F) {
	for _, s := range [][2]string{
		{"alice", ""}, {"alice", "login"}, {"alice", "demo/abc echo hi"}, {"alice+demo", "ls"},
		{"alice+", " \t"}, {"+demo", "x"}, {"a+b+c", "help"}, {"alice", "demo\x00/\n ls"}, {"bob", "@"}, {"bob", "@id"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, login, raw string) {
		r := parseRequest(login, raw)
		if u, _, _ := strings.Cut(login, "+"); r.user != u {
			t.Fatalf("user %q from login %q", r.user, login)
		}
		if r.command != strings.TrimSpace(r.command) {
			t.Fatalf("command %q is not trimmed", r.command)
		}
		switch {
		case r.plain:
			if r.workspace == "" || r.builtin != "" || r.session != "" {
				t.Fatalf("plain request %+v", r)
			}
		case r.builtin != "":
			if r.workspace != "" || r.command != "" || r.session != "" || r.shared != "" {
				t.Fatalf("builtin with more: %+v", r)
			}
		case r.shared != "":
			if r.workspace != "" || r.command != "" || r.session != "" || strings.ContainsAny(r.shared, " \t") {
				t.Fatalf("shared session request with more: %+v", r)
			}
		default:
			if strings.ContainsAny(r.workspace+r.session, " \t") || strings.Contains(r.workspace, "/") {
				t.Fatalf("blank or slash in %+v", r)
			}
			// The same request written again parses the same.
			line := r.workspace
			if r.session != "" || strings.HasPrefix(strings.TrimSpace(raw), r.workspace+"/") {
				line += "/" + r.session
			}
			if again := parseRequest(login, line+" "+r.command); again != r {
				t.Fatalf("%q %q: %+v, again %+v", login, raw, r, again)
			}
		}
	})
}
