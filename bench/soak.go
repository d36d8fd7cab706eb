package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// soakSettle is how long after the load the settle-back figures are read.
const soakSettle = 60 * time.Second

// soakEchoRuns is how many echo runs over SSH the soak times during the
// load, if it lasts; it reports their median p99.
const soakEchoRuns = 3

// soak runs the busy-team load of webbridge/e2e/soak-client.mjs against
// codeterm: socket.io-client tabs (half websocket, half long-polling) each
// printing numbered bursts in a terminal of its own while dropping and
// resuming with lastSeq, checked for loss at the end. Meanwhile echo is
// timed over SSH. It reports the server's peak RSS, the echo p99 during the
// load, and RSS and descriptors soakSettle after it, against the baseline
// just before. codeterm only: node-pty + socket.io has no resume to soak.
func soak(ctx context.Context, res *results, e *env, p plan) error {
	defer timed("soak", time.Now())
	if err := soakOne(ctx, res, e, p, e.codeterm, ""); err != nil {
		return err
	}
	if e.before != nil {
		return soakOne(ctx, res, e, p, e.before, ", before")
	}
	return nil
}

// soakOne soaks one codeterm server; suffix names its columns.
func soakOne(ctx context.Context, res *results, e *env, p plan, ct *codetermServer, suffix string) error {
	node, err := exec.LookPath("node")
	if err != nil {
		res.note("soak: node is missing")
		return nil
	}
	script, _ := filepath.Abs(filepath.Join("webbridge", "e2e", "soak-client.mjs"))
	if _, err := os.Stat(filepath.Join(filepath.Dir(script), "node_modules", "socket.io-client")); err != nil {
		res.note("soak: socket.io-client is not installed in webbridge/e2e (make bench-node)")
		return nil
	}
	pid := ct.cmd.Process.Pid
	baseRSS, baseFDs, err := usage(pid)
	if err != nil {
		return err
	}
	stop := filepath.Join(e.home, "soak-stop")
	os.Remove(stop)
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Env = append(os.Environ(), "CODETERM_URL="+ct.httpURL, "TOKEN="+ct.token, "WORKSPACE="+ct.workspaces["sio"],
		"STOP="+stop, "CLIENTS="+strconv.Itoa(p.soakClients))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	peak := baseRSS
	sample := func() {
		if rss, _, err := usage(pid); err == nil {
			peak = max(peak, rss)
		}
	}
	end := time.Now().Add(p.soakFor)
	// Echo over SSH while the load runs, from a couple of seconds in.
	time.Sleep(2 * time.Second)
	t, err := startSSH(append(e.sshArgs(ct.sshPort), ct.user+"@127.0.0.1", "demo"))
	if err != nil {
		return fmt.Errorf("soak: ssh: %w", err)
	}
	// One run's p99 under this load moves by 2-4x from run to run: the
	// median of a few, as long as the load lasts.
	var p99s []time.Duration
	for len(p99s) < soakEchoRuns && (len(p99s) == 0 || time.Now().Before(end)) {
		_, p99, err := echo(t, p.keystrokes)
		if err != nil {
			t.close()
			return fmt.Errorf("soak: echo during the load: %w", err)
		}
		p99s = append(p99s, p99)
	}
	t.close()
	slices.Sort(p99s)
	p99 := p99s[len(p99s)/2]
	for time.Now().Before(end) {
		sample()
		time.Sleep(100 * time.Millisecond)
	}
	if err := os.WriteFile(stop, nil, 0o600); err != nil {
		return err
	}
	for waiting := true; waiting; {
		select {
		case err := <-done:
			if err != nil {
				return fmt.Errorf("soak: socket.io-client: %v: %s", err, out.String())
			}
			waiting = false
		case <-time.After(100 * time.Millisecond):
			sample()
		}
	}
	time.Sleep(soakSettle)
	rss, fds, err := usage(pid)
	if err != nil {
		return err
	}
	sys := "codeterm over Socket.IO" + suffix
	// The baselines are rows of their own, so that each figure's table
	// holds both servers of an A/B.
	res.add("soak: RSS before the load (the baseline), MiB", sys, float64(baseRSS>>20))
	res.add(fmt.Sprintf("soak (%d tabs, %v): peak RSS, MiB", p.soakClients, p.soakFor), sys, float64(peak>>20))
	res.add(fmt.Sprintf("soak: RSS %v after the load, MiB over the baseline", soakSettle), sys, float64((rss-baseRSS)>>20))
	res.add("soak: descriptors before the load (the baseline)", sys, float64(baseFDs))
	res.add(fmt.Sprintf("soak: descriptors %v after the load, over the baseline", soakSettle), sys, float64(fds-baseFDs))
	res.add("soak: echo p99 over SSH during the load, ms", "codeterm over SSH"+suffix, ms(p99))
	res.note("soak: webbridge/e2e/soak-client.mjs, tabs half websocket and half long-polling, each printing numbered bursts while it drops at random and resumes with lastSeq, every line checked at the end; RSS and descriptors are the server process's (/proc), shells excluded; the echo p99 is the median of up to %d runs of %d keystrokes while the load lasts", soakEchoRuns, p.keystrokes)
	return nil
}

// usage is a process's resident memory in bytes and its open descriptors.
func usage(pid int) (rss int64, fds int, err error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, l := range strings.Split(string(status), "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			rss = kb << 10
		}
	}
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return rss, len(ents), err
}
