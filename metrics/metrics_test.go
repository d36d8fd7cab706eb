package metrics

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/codeterm/codeterm/sessions"
	"github.com/codeterm/codeterm/sshd"
	"github.com/codeterm/codeterm/webbridge"
)

// A scrape after a little terminal work shows it, is guarded by the token,
// and is valid exposition text for promtool.
func TestScrape(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is required: apt-get install prometheus (CI installs it)")
	}
	m := sessions.NewManager(sessions.Config{}, nil, nil)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		m.Shutdown(ctx)
	})
	s, err := m.Create(context.Background(), sessions.SpawnOptions{UserID: "u", WorkspaceID: "w", Dir: t.TempDir(), Shell: "sh"})
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.Attach(sessions.AttachOptions{Client: "socket", LastSeq: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	viewer, err := s.Attach(sessions.AttachOptions{Client: "ssh", ReadOnly: true, LastSeq: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer viewer.Close()
	if _, err := a.Write([]byte("echo metrics-$((40+2))\n")); err != nil {
		t.Fatal(err)
	}
	var out []byte
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for !bytes.Contains(out, []byte("metrics-42")) {
		ch, err := a.Next(ctx)
		if err != nil {
			t.Fatalf("output %q: %v", out, err)
		}
		out = append(out, ch.Data...)
	}

	if ch, err := viewer.Next(ctx); err != nil || ch.Kind != sessions.ChunkRepaint {
		t.Fatalf("viewer's first chunk: %v %v", ch.Kind, err)
	}

	h := WithToken("s3cret", Handler(Sources{Sessions: m, Web: &webbridge.Server{}, SSH: &sshd.Server{}}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, auth := range []string{"", "Bearer wrong", "s3cret"} {
		req, _ := http.NewRequest("GET", srv.URL+"/metrics", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("Authorization %q: %d, want 401", auth, res.StatusCode)
		}
	}
	req, _ := http.NewRequest("GET", srv.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("scrape: %d %s", res.StatusCode, body)
	}
	text := string(body)
	for _, want := range []string{
		`codeterm_sessions{state="attached"} 1`,
		`codeterm_sessions{state="detached"} 0`,
		`codeterm_attachments{frontend="socket",mode="write"} 1`,
		`codeterm_attachments{frontend="ssh",mode="read"} 1`,
		`codeterm_session_queued_bytes{frontend="socket"} `,
		`codeterm_session_queued_bytes{frontend="ssh"} `,
		`codeterm_socketio_connections 0`,
		`codeterm_ssh_auth_failures_total{reason="unknown_key"} 0`,
		`go_goroutines `,
		`process_resident_memory_bytes `,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
	if n := value(t, text, "codeterm_session_input_bytes_total"); n != float64(len("echo metrics-$((40+2))\n")) {
		t.Errorf("input bytes %v", n)
	}
	if n := value(t, text, "codeterm_session_output_bytes_total"); n < float64(len("metrics-42")) {
		t.Errorf("output bytes %v", n)
	}
	if n := value(t, text, "codeterm_echo_latency_seconds_count"); n < 1 {
		t.Errorf("echo latency observations %v", n)
	}
	if n := value(t, text, "codeterm_repaints_total"); n != 1 { // the viewer's first screen
		t.Errorf("repaints %v", n)
	}

	check := exec.Command(promtool, "check", "metrics")
	check.Stdin = bytes.NewReader(body)
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
	t.Logf("scrape: %d bytes, %d lines", len(body), bytes.Count(body, []byte("\n")))
}

func value(t *testing.T, text, name string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no %s in the scrape", name)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
