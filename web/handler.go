package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
)

// contentSecurityPolicy allows only this origin's scripts and connections.
// Styles need 'unsafe-inline': xterm.js adds <style> elements at run time.
// 'wasm-unsafe-eval' lets the replay page's player compile its WebAssembly
// terminal; it allows no JavaScript eval.
const contentSecurityPolicy = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Handler serves the single-page app: index.html for its page routes
// ("/", "/login", "/w/..."), never cached so a new binary's UI is picked up
// at once, and the content-hashed files under /assets/, cached for a year.
// Assets are sent gzipped to clients that accept it.
func Handler() http.Handler {
	return newHandler(Static)
}

type handler struct {
	files fs.FS
	index []byte
	once  sync.Map // asset name → *asset, built on first use
}

type asset struct {
	once     sync.Once
	raw, gz  []byte
	etag     string
	mimeType string
	err      error
}

func newHandler(fsys fs.FS) *handler {
	sub, err := fs.Sub(fsys, "static")
	if err != nil {
		panic(err) // static is embedded; this cannot fail
	}
	index, _ := fs.ReadFile(sub, "index.html")
	return &handler{files: sub, index: index}
}

// IsPage reports whether p is one of the app's page routes.
func IsPage(p string) bool {
	return p == "/" || p == "/index.html" || p == "/login" || p == "/login/" || p == "/w" || strings.HasPrefix(p, "/w/") ||
		strings.HasPrefix(p, "/s/") || strings.HasPrefix(p, "/r/")
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch p := r.URL.Path; {
	case IsPage(p):
		h.serveIndex(w, r)
	case strings.HasPrefix(p, "/assets/"):
		h.serveAsset(w, r, strings.TrimPrefix(p, "/"))
	default:
		http.NotFound(w, r)
	}
}

func (h *handler) serveIndex(w http.ResponseWriter, r *http.Request) {
	if h.index == nil {
		http.Error(w, "the web UI is not built: run make web", http.StatusNotFound)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Security-Policy", contentSecurityPolicy)
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Content-Length", strconv.Itoa(len(h.index)))
	if r.Method == http.MethodHead {
		return
	}
	w.Write(h.index)
}

func (h *handler) serveAsset(w http.ResponseWriter, r *http.Request, name string) {
	clean := path.Clean(name)
	if clean != name || strings.Contains(name, "..") || !fs.ValidPath(name) {
		http.NotFound(w, r)
		return
	}
	v, _ := h.once.LoadOrStore(name, &asset{})
	a := v.(*asset)
	a.once.Do(func() { a.load(h.files, name) })
	if a.err != nil {
		http.NotFound(w, r)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", a.mimeType)
	// The name carries the content hash: it never changes meaning.
	hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	hd.Set("ETag", a.etag)
	hd.Set("Vary", "Accept-Encoding")
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := a.raw
	if a.gz != nil && acceptsGzip(r) {
		hd.Set("Content-Encoding", "gzip")
		body = a.gz
	}
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	w.Write(body)
}

func (a *asset) load(fsys fs.FS, name string) {
	a.raw, a.err = fs.ReadFile(fsys, name)
	if a.err != nil {
		return
	}
	sum := sha256.Sum256(a.raw)
	a.etag = `"` + hex.EncodeToString(sum[:8]) + `"`
	a.mimeType = mime.TypeByExtension(path.Ext(name))
	if a.mimeType == "" {
		a.mimeType = "application/octet-stream"
	}
	if len(a.raw) < 1024 {
		return // not worth it
	}
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	zw.Write(a.raw)
	zw.Close()
	if b.Len() < len(a.raw) {
		a.gz = b.Bytes()
	}
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			q = strings.ReplaceAll(strings.TrimSpace(q), " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}
