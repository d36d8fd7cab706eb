package web

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// BenchmarkPageOutputForms measures terminal-output's two forms in the real
// page: headless Chromium (web/e2e/output-bench.mjs) on a codeterm built from
// this tree, one page asking for the JSON string form (localStorage
// codeterm.outputForm = "string") and one for the binary form, each on a
// session of its own. Each round cats a 16 MiB file in one page, then in the
// other, and times the Enter key to xterm.js having parsed the end marker.
// Per form it reports MiB/s and the CPU time per MiB of the server process
// (/proc/PID/stat: the shell and cat are not counted) and of every Chromium
// process; the binary/string ratios come from the same run, the forms
// alternating. One b.N is 3 rounds of each form.
//
//	go test -run '^$' -bench PageOutputForms ./web/
func BenchmarkPageOutputForms(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	s := startServer(ctx, b)
	s.cli("workspace", "create", "bench-string", "--owner", s.user)
	s.cli("workspace", "create", "bench-binary", "--owner", s.user)
	// xterm.js parses random bytes at under 1 MiB/s here (control
	// sequences of every kind), text at tens: 4 MiB of the one, 16 of the
	// other.
	for _, c := range []struct {
		kind string
		size int
	}{{"text", 16 << 20}, {"bytes", 4 << 20}} {
		b.Run("data="+c.kind, func(b *testing.B) {
			r := s.pageOutputForms(ctx, b, c.kind, 3*b.N, c.size)
			str, bin := r["string"], r["binary"]
			for _, f := range []struct {
				name string
				m    formFigures
			}{{"string", str}, {"binary", bin}} {
				b.ReportMetric(f.m.mibps(), f.name+"-MiB/s")
				b.ReportMetric(f.m.perMiB(f.m.ServerCPUMs), f.name+"-server-cpu-ms/MiB")
				b.ReportMetric(f.m.perMiB(f.m.BrowserCPUMs), f.name+"-chromium-cpu-ms/MiB")
			}
			b.ReportMetric(bin.mibps()/str.mibps(), "binary/string-MiB/s")
			b.ReportMetric(bin.perMiB(bin.ServerCPUMs)/str.perMiB(str.ServerCPUMs), "binary/string-server-cpu")
			b.ReportMetric(bin.perMiB(bin.BrowserCPUMs)/str.perMiB(str.BrowserCPUMs), "binary/string-chromium-cpu")
		})
	}
}

// formFigures is what output-bench.mjs measured for one form, summed over
// its rounds.
type formFigures struct {
	Bytes        int64   `json:"bytes"` // by the stream's byte offsets
	MS           float64 `json:"ms"`
	ServerCPUMs  float64 `json:"serverCpuMs"`
	BrowserCPUMs float64 `json:"browserCpuMs"`
}

func (f formFigures) mib() float64              { return float64(f.Bytes) / (1 << 20) }
func (f formFigures) mibps() float64            { return f.mib() / (f.MS / 1000) }
func (f formFigures) perMiB(ms float64) float64 { return ms / f.mib() }

// pageOutputForms runs web/e2e/output-bench.mjs: rounds cats of size bytes
// of kind ("text": UTF-8 terminal text, "bytes": random bytes) in each
// form, in the workspaces bench-string and bench-binary.
func (s *e2eServer) pageOutputForms(ctx context.Context, tb testing.TB, kind string, rounds, size int) map[string]formFigures {
	tb.Helper()
	cmd := exec.CommandContext(ctx, s.node, "e2e/output-bench.mjs")
	cmd.Dir = s.webDir
	cmd.Env = append(s.nodeEnv(), "SERVER_PID="+strconv.Itoa(s.pid), "KIND="+kind,
		"ROUNDS="+strconv.Itoa(rounds), "SIZE="+strconv.Itoa(size), "TMPDIR="+tb.TempDir())
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		tb.Fatalf("node e2e/output-bench.mjs: %v\n%s%s", err, out.String(), errOut.String())
	}
	r := map[string]formFigures{}
	if err := json.Unmarshal(out.Bytes(), &r); err != nil || r["string"].Bytes == 0 || r["binary"].Bytes == 0 {
		tb.Fatalf("output-bench.mjs said %q (%v)\n%s", out.String(), err, errOut.String())
	}
	return r
}
