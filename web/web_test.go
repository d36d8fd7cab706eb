package web

import (
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestStaticFresh rebuilds the front-end into a temporary directory and
// fails if web/static differs: the committed bundle must be the build of
// the committed sources (esbuild output is deterministic).
func TestStaticFresh(t *testing.T) {
	node := requireTool(t, "node", "Node.js 20 or later")
	webDir, _ := filepath.Abs(".")
	ensureNodeModules(t, webDir)
	cmd := exec.Command(node, "scripts/build.mjs", "--check")
	cmd.Dir = webDir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s", out)
	}
	t.Logf("%s", out)
}

func assetPaths(t *testing.T) (js, css string) {
	t.Helper()
	// The page's own files; lazily loaded chunk-*.js files are beside them,
	// and chunks loaded on demand by name (player-*, vnc-*) are not in
	// index.html.
	names, err := fs.Glob(Static, "static/assets/app-*")
	if err != nil || len(names) == 0 {
		t.Fatalf("no built assets in static/assets (run make web): %v", err)
	}
	for _, n := range names {
		switch filepath.Ext(n) {
		case ".js":
			js = strings.TrimPrefix(n, "static")
		case ".css":
			css = strings.TrimPrefix(n, "static")
		}
	}
	return js, css
}

func TestHandlerPages(t *testing.T) {
	h := Handler()
	js, css := assetPaths(t)
	for _, p := range []string{"/", "/login", "/login?code=x", "/w/demo", "/w/demo/abc123", "/s/abc123", "/r/abc123"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", p, nil))
		if rec.Code != 200 {
			t.Fatalf("GET %s = %d", p, rec.Code)
		}
		if got := rec.Header().Get("Cache-Control"); got != "no-store" {
			t.Errorf("GET %s Cache-Control = %q, want no-store", p, got)
		}
		if !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") || rec.Header().Get("Content-Security-Policy") == "" {
			t.Errorf("GET %s headers %v", p, rec.Header())
		}
		body := rec.Body.String()
		if !strings.Contains(body, js) || !strings.Contains(body, css) {
			t.Errorf("GET %s: index.html does not load %s and %s", p, js, css)
		}
	}
	for _, p := range []string{"/nope", "/assets/missing.js", "/assets/../index.html", "/api/x", "/static/index.html"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", p, nil))
		if rec.Code != 404 {
			t.Errorf("GET %s = %d, want 404", p, rec.Code)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST / = %d", rec.Code)
	}
}

func TestHandlerAssets(t *testing.T) {
	h := Handler()
	js, _ := assetPaths(t)
	want, _ := fs.ReadFile(Static, "static"+js)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", js, nil))
	if rec.Code != 200 || rec.Body.String() != string(want) {
		t.Fatalf("GET %s = %d, %d bytes", js, rec.Code, rec.Body.Len())
	}
	if cc := rec.Header().Get("Cache-Control"); !strings.Contains(cc, "immutable") || !strings.Contains(cc, "max-age=31536000") {
		t.Errorf("Cache-Control = %q", cc)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.Contains(ct, "javascript") {
		t.Errorf("Content-Type = %q", ct)
	}

	req := httptest.NewRequest("GET", js, nil)
	req.Header.Set("Accept-Encoding", "br, gzip")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("no gzip: %v", rec.Header())
	}
	zr, err := gzip.NewReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(zr)
	if string(got) != string(want) {
		t.Fatal("gzipped body differs")
	}

	req = httptest.NewRequest("GET", js, nil)
	req.Header.Set("If-None-Match", rec.Header().Get("ETag"))
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified {
		t.Errorf("If-None-Match: %d", rec.Code)
	}
}
