package workspaces

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
)

// countingServer counts the requests it gets and answers each with h.
func countingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestCloneRefusesPrivateHosts(t *testing.T) { bothCloners(t, testCloneRefusesPrivateHosts) }

func testCloneRefusesPrivateHosts(t *testing.T, cl func(*Config)) {
	g := newGitServer(t)
	g.newRepo(t, "demo", map[string]string{"a.txt": "1"})
	srv, hits := countingServer(t, g.srv.Config.Handler.ServeHTTP)
	e := newEnv(t, cl, func(c *Config) { c.AllowPrivateHosts = false })
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	for _, url := range []string{
		srv.URL + "/demo.git",
		"http://localhost:" + port + "/demo.git",
		"http://[::1]:" + port + "/demo.git",
		"http://[::ffff:127.0.0.1]:" + port + "/demo.git",
		"http://0.0.0.0:" + port + "/demo.git",
		"http://169.254.169.254/latest/meta-data.git",
		"https://10.1.2.3/x.git",
		"https://192.168.0.1/x.git",
		"https://[fd00::1]/x.git",
		"ssh://git@127.0.0.1/x.git",
		"git@127.0.0.1:x.git",
	} {
		_, err := e.m.Create(context.Background(), e.user, CreateOptions{Name: "w", RepoURL: url})
		if !errors.Is(err, ErrInvalidURL) || !strings.Contains(err.Error(), "allow_private_hosts") {
			t.Fatalf("%s: %v", url, err)
		}
		e.assertNothingWritten(t, "w")
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the private server got %d requests", n)
	}
	// The operator's switch lets them through.
	e2 := newEnv(t, cl, func(c *Config) { c.AllowPrivateHosts = true })
	if _, err := e2.m.Create(context.Background(), e2.user, CreateOptions{Name: "w", RepoURL: srv.URL + "/demo.git"}); err != nil {
		t.Fatalf("allowed: %v", err)
	}
}

func TestSyncRefusesPrivateHosts(t *testing.T) {
	g := newGitServer(t)
	g.newRepo(t, "demo", map[string]string{"a.txt": "1"})
	e := newEnv(t)
	ws, err := e.m.Create(context.Background(), e.user, CreateOptions{Name: "w", RepoURL: g.url("demo")})
	if err != nil {
		t.Fatal(err)
	}
	e.m.cfg.AllowPrivateHosts = false
	if _, err := e.m.Sync(context.Background(), e.user.ID, ws.ID, OpFetch, Auth{}); !errors.Is(err, ErrInvalidURL) {
		t.Fatalf("fetch from 127.0.0.1: %v", err)
	}
}

// pretendPublic makes every address count as public and resolves any host
// name to 127.0.0.1, as a public name an attacker controls could.
func pretendPublic(m *Manager) {
	m.isPublic = func(netip.Addr) bool { return true }
	m.lookupHost = func(context.Context, string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
}

func TestCloneFollowsNoRedirectToPrivate(t *testing.T) {
	bothCloners(t, testCloneFollowsNoRedirectToPrivate)
}

// testCloneFollowsNoRedirectToPrivate: a remote at a public address
// (127.0.0.1 counts as one here) redirects to a private one (127.0.0.2):
// the clone fails and the private address gets no request.
func testCloneFollowsNoRedirectToPrivate(t *testing.T, cl func(*Config)) {
	g := newGitServer(t)
	g.newRepo(t, "demo", map[string]string{"a.txt": "1"})
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no 127.0.0.2: %v", err)
	}
	var innerHits atomic.Int32
	inner := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		innerHits.Add(1)
		g.srv.Config.Handler.ServeHTTP(w, r)
	})}}
	inner.Start()
	t.Cleanup(inner.Close)
	outer, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, inner.URL+strings.Replace(r.URL.RequestURI(), "/moved.git", "/demo.git", 1), http.StatusFound)
	})
	e := newEnv(t, cl, func(c *Config) { c.AllowPrivateHosts = false })
	e.m.isPublic = func(a netip.Addr) bool { return a == netip.MustParseAddr("127.0.0.1") }
	_, err = e.m.Create(context.Background(), e.user, CreateOptions{Name: "w", RepoURL: outer.URL + "/moved.git"})
	if err == nil {
		t.Fatal("a clone followed a redirect to a private address")
	}
	if n := innerHits.Load(); n != 0 {
		t.Fatalf("the private address got %d requests", n)
	}
	e.assertNothingWritten(t, "w")
}

func TestClonePinnedToCheckedAddress(t *testing.T) { bothCloners(t, testClonePinnedToCheckedAddress) }

// testClonePinnedToCheckedAddress: git and go-git cannot resolve this name
// themselves: the clone works only because it connects to the address the
// check resolved (git through http.curloptResolve, go-git through the guard).
func testClonePinnedToCheckedAddress(t *testing.T, cl func(*Config)) {
	g := newGitServer(t)
	g.newRepo(t, "demo", map[string]string{"a.txt": "1"})
	e := newEnv(t, cl, func(c *Config) { c.AllowPrivateHosts = false })
	pretendPublic(e.m)
	port := g.srv.URL[strings.LastIndex(g.srv.URL, ":")+1:]
	url := "http://repo.codeterm.invalid:" + port + "/demo.git"
	ws, err := e.m.Create(context.Background(), e.user, CreateOptions{Name: "w", RepoURL: url})
	if err != nil {
		t.Fatalf("pinned clone: %v", err)
	}
	if ws.RepoURL != url {
		t.Fatalf("remote %q", ws.RepoURL)
	}
	if _, err := e.m.Sync(context.Background(), e.user.ID, ws.ID, OpFetch, Auth{}); err != nil {
		t.Fatalf("pinned fetch: %v", err)
	}
}

func TestCloneErrorRelaysNoRemoteBody(t *testing.T) { bothCloners(t, testCloneErrorRelaysNoRemoteBody) }

func testCloneErrorRelaysNoRemoteBody(t *testing.T, cl func(*Config)) {
	for _, status := range []int{http.StatusNotFound, http.StatusForbidden, http.StatusInternalServerError} {
		srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "internal service\ndb_password=hunter2", status)
		})
		e := newEnv(t, cl)
		_, err := e.m.Create(context.Background(), e.user, CreateOptions{Name: "w", RepoURL: srv.URL + "/x.git"})
		if err == nil || strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "internal service") {
			t.Fatalf("status %d: %v", status, err)
		}
	}
}
