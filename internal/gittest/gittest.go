// Package gittest gives tests git's own smart-HTTP server and a git command
// line with a fixed identity. The git binary is required: CI installs it,
// and a test that skipped without it would prove nothing.
package gittest

import (
	"net/http"
	"net/http/cgi"
	"os/exec"
	"testing"
)

// Bin is the path of the git binary; the test fails without one.
func Bin(tb testing.TB) string {
	tb.Helper()
	p, err := exec.LookPath("git")
	if err != nil {
		tb.Fatal("git is required (apt-get install git)")
	}
	return p
}

// Backend serves the bare repositories under root with git http-backend
// through CGI (pushes need http.receivepack in the repository). It passes on GIT_CONFIG_NOSYSTEM and
// GIT_CONFIG_GLOBAL, so a test that sets them isolates the server from the
// machine's git configuration too.
func Backend(tb testing.TB, root string) http.Handler {
	return &cgi.Handler{
		Path:       Bin(tb),
		Args:       []string{"http-backend"},
		Env:        []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"},
		InheritEnv: []string{"PATH", "GIT_CONFIG_NOSYSTEM", "GIT_CONFIG_GLOBAL"},
	}
}
