package main

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
)

// BenchmarkUpgrade measures an in-place upgrade as a browser sees it: from
// SIGHUP to the first byte of a session served by the new program (a
// socket.io-client that reconnects at once and resumes), beside the same
// client merely dropping and re-opening its connection to the same server
// (the floor of any resume), in one run. Streaming also counts the bytes
// lost or repeated across the switches, which must be none.
func BenchmarkUpgrade(b *testing.B) {
	for _, c := range []struct {
		name   string
		idle   int
		stream bool
	}{{"idle-100", 100, false}, {"streaming", 0, true}} {
		b.Run(c.name, func(b *testing.B) { benchUpgrade(b, c.idle, c.stream) })
	}
}

func benchUpgrade(b *testing.B, idle int, stream bool) {
	node, err := exec.LookPath("node")
	if err != nil {
		b.Skip("node is required")
	}
	script, _ := filepath.Abs("../../webbridge/e2e/upgrade-bench.mjs")
	if _, err := os.Stat(filepath.Join(filepath.Dir(script), "node_modules", "socket.io-client")); err != nil {
		b.Skip("run (cd webbridge/e2e && npm ci) first")
	}
	s := startUpgradeServer(b, "CODETERM_SESSIONS_MAX_PER_USER=200", "CODETERM_SESSIONS_MAX_PER_WORKSPACE=200")
	cmd := exec.Command(node, script)
	cmd.Env = append(os.Environ(), "CODETERM_URL="+s.base, "TOKEN="+s.token, "WORKSPACE="+s.wsID,
		"IDLE="+strconv.Itoa(idle), "STREAM="+map[bool]string{true: "1", false: "0"}[stream])
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	answers := bufio.NewScanner(out)
	answer := func() map[string]float64 {
		if !answers.Scan() {
			b.Fatal("the client ended")
		}
		var m map[string]any
		if err := json.Unmarshal(answers.Bytes(), &m); err != nil || m["error"] != nil {
			b.Fatalf("client: %s", answers.Text())
		}
		nums := map[string]float64{}
		for k, v := range m {
			if f, ok := v.(float64); ok {
				nums[k] = f
			}
		}
		return nums
	}
	answer() // ready

	var switches, drops []float64
	b.ResetTimer()
	for range b.N {
		io.WriteString(in, "drop\n")
		drops = append(drops, answer()["ms"])
		from := s.mark()
		io.WriteString(in, "go\n")
		s.cmd.Process.Signal(syscall.SIGHUP)
		switches = append(switches, answer()["ms"])
		s.waitLog(from, "now serving as the new program")
	}
	b.StopTimer()
	io.WriteString(in, "end\n")
	end := answer()
	med := func(v []float64) float64 { slices.Sort(v); return v[len(v)/2] }
	sw, dr := med(switches), med(drops)
	b.ReportMetric(sw, "switch-ms")
	b.ReportMetric(dr, "reconnect-ms")
	b.ReportMetric(sw/dr, "switch/reconnect")
	if stream {
		lost := end["lostLines"] + end["dupLines"] + end["gapBytes"]
		b.ReportMetric(lost, "lost+repeated")
		if lost != 0 {
			b.Errorf("bytes lost or repeated across %d switches: %v", b.N, end)
		}
	}
}
