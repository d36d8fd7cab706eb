package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// procUsage reads a process's resident memory (bytes) and open descriptors.
func procUsage(pid int) (rss int64, fds int, err error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			rss = kb << 10
		}
	}
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return rss, len(ents), err
}

func mustUsage(t testing.TB, pid int) (int64, int) {
	t.Helper()
	rss, fds, err := procUsage(pid)
	if err != nil {
		t.Fatal(err)
	}
	return rss, fds
}

// opensshArgs runs the real OpenSSH client against s as alice.
func (s *upgradeServer) opensshArgs(extra ...string) []string {
	return append([]string{"-F", "none", "-i", s.keyFile, "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "BatchMode=yes",
		"-p", s.sshPort}, extra...)
}

// TestSoak: ten socket.io-client tabs (half websocket, half long-polling)
// stream numbered bursts while dropping and resuming with lastSeq, and two
// OpenSSH clients run commands and attach to the shared session, the
// attaching one killed mid-output. No line is lost or duplicated, and once
// the load is over the server settles back: within 60 s its RSS is within
// 64 MiB of the baseline and it holds at most 10 descriptors more.
func TestSoak(t *testing.T) {
	requireSSH(t)
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is required (see README)")
	}
	script := filepath.Join(sioDir(t), "soak-client.mjs")
	load := 15 * time.Second
	if testing.Short() {
		load = 5 * time.Second
	}
	s := startUpgradeServer(t, "CODETERM_LIMITS_SERVER_IDLE=2s")
	pid := s.cmd.Process.Pid
	if out, err := exec.Command("ssh", s.opensshArgs("alice@127.0.0.1", "demo", "true")...).CombinedOutput(); err != nil {
		t.Fatalf("ssh demo true: %v: %s", err, out)
	}
	baseRSS, baseFDs := mustUsage(t, pid)

	stop := filepath.Join(t.TempDir(), "stop")
	var (
		peakRSS  int64
		peakFDs  int
		sampling = make(chan struct{})
		sampled  = make(chan struct{})
	)
	go func() {
		defer close(sampled)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-sampling:
				return
			case <-tick.C:
				rss, fds, err := procUsage(pid)
				if err != nil {
					return // the server is gone; the test says why
				}
				peakRSS, peakFDs = max(peakRSS, rss), max(peakFDs, fds)
			}
		}
	}()

	var (
		wg       sync.WaitGroup
		errMu    sync.Mutex
		sshErrs  []string
		commands int
		attaches int
		requests int
	)
	fail := func(format string, args ...any) {
		errMu.Lock()
		sshErrs = append(sshErrs, fmt.Sprintf(format, args...))
		errMu.Unlock()
	}
	// attachCycle attaches to the workspace's shared session, waits for
	// this cycle's marker and dies mid-output; false: it failed (and said
	// why).
	attachCycle := func(k int) bool {
		cmd := exec.Command("ssh", s.opensshArgs("-tt", "alice@127.0.0.1", "demo")...)
		in, _ := cmd.StdinPipe()
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			fail("ssh -tt demo: %v", err)
			return false
		}
		marker := fmt.Sprintf("SSHMARK%d", k)
		fmt.Fprintf(in, "echo SSH\"\"MARK%d; seq 1 20000\r", k)
		seen := make(chan bool, 1)
		go func() {
			var got []byte
			buf := make([]byte, 32<<10)
			for {
				n, err := out.Read(buf)
				got = append(got, buf[:n]...)
				if bytes.Contains(got, []byte(marker)) {
					seen <- true
					io.Copy(io.Discard, out)
					return
				}
				if err != nil {
					seen <- false
					return
				}
			}
		}()
		ok := false
		select {
		case ok = <-seen:
			if !ok {
				fail("ssh -tt cycle %d ended without its marker", k)
			}
		case <-time.After(60 * time.Second):
			fail("ssh -tt cycle %d never saw its marker", k)
		}
		cmd.Process.Kill()
		cmd.Wait()
		attaches++
		return ok
	}
	// The shared session is the workspace's primary, its oldest running
	// one: started before the tabs start theirs, so that it is never one
	// of them (their check would find the attaching client's typing).
	if !attachCycle(0) {
		t.Fatalf("the first ssh -tt attach: %v", sshErrs)
	}

	nodeCmd := exec.Command(node, script)
	nodeCmd.Env = append(os.Environ(), "CODETERM_URL="+s.base, "TOKEN="+s.token, "WORKSPACE="+s.wsID, "STOP="+stop, "CLIENTS=10")
	var nodeOut bytes.Buffer
	nodeCmd.Stdout = &nodeOut
	nodeCmd.Stderr = os.Stderr
	if err := nodeCmd.Start(); err != nil {
		t.Fatal(err)
	}
	nodeDone := make(chan error, 1)
	go func() { nodeDone <- nodeCmd.Wait() }()
	t.Cleanup(func() {
		if nodeCmd.ProcessState == nil {
			nodeCmd.Process.Kill()
			<-nodeDone
		}
	})

	stopped := func() bool { _, err := os.Stat(stop); return err == nil }
	wg.Add(3)
	go func() { // bursts of 100 concurrent API requests, each a few queries
		defer wg.Done()
		for !stopped() {
			var burst sync.WaitGroup
			for range 100 {
				burst.Add(1)
				go func() {
					defer burst.Done()
					req, _ := http.NewRequest("GET", s.base+"/api/workspaces", nil)
					req.Header.Set("Authorization", "Bearer "+s.token)
					res, err := http.DefaultClient.Do(req)
					if err != nil {
						fail("GET /api/workspaces: %v", err)
						return
					}
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != 200 {
						fail("GET /api/workspaces: %d", res.StatusCode)
					}
				}()
			}
			burst.Wait()
			requests += 100
			time.Sleep(500 * time.Millisecond)
		}
		http.DefaultClient.CloseIdleConnections()
	}()
	go func() { // commands: every line of their output arrives
		defer wg.Done()
		for i := 0; !stopped(); i++ {
			out, err := exec.Command("ssh", s.opensshArgs("alice@127.0.0.1", "demo", "seq", "1", "20000")...).Output()
			if err != nil {
				fail("ssh demo seq: %v", err)
				return
			}
			if n := bytes.Count(out, []byte("\n")); n != 20000 || !bytes.HasSuffix(out, []byte("\n20000\n")) {
				fail("ssh demo seq 1 20000: %d lines", n)
				return
			}
			commands++
		}
	}()
	go func() { // attach to the shared session, see this cycle's marker, die mid-output
		defer wg.Done()
		for k := 1; !stopped(); k++ {
			if !attachCycle(k) {
				return
			}
		}
	}()

	time.Sleep(load) // the load runs for this long
	if err := os.WriteFile(stop, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-nodeDone:
		if err != nil {
			t.Fatalf("socket.io-client soak: %v: %s", err, nodeOut.String())
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("socket.io-client soak did not finish")
	}
	wg.Wait()
	close(sampling)
	<-sampled
	for _, e := range sshErrs {
		t.Error(e)
	}
	var res struct {
		OK                bool
		Lines, Reconnects int
		Message           string
	}
	sc := bufio.NewScanner(&nodeOut)
	for sc.Scan() {
		_ = json.Unmarshal(sc.Bytes(), &res)
	}
	if !res.OK || res.Lines == 0 || res.Reconnects == 0 {
		t.Fatalf("socket.io-client soak: %s", nodeOut.String())
	}
	ended := time.Now()

	// Settling back: the load is over; poll the figures for up to 60 s.
	var rss int64
	var fds int
	for {
		rss, fds = mustUsage(t, pid)
		if rss <= baseRSS+64<<20 && fds <= baseFDs+10 {
			break
		}
		if time.Since(ended) > 60*time.Second {
			t.Errorf("60 s after the load: RSS %d MiB (baseline %d MiB), %d descriptors (baseline %d): %v",
				rss>>20, baseRSS>>20, fds, baseFDs, s.fds())
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("soak %v: %d lines over %d socket.io reconnects, %d ssh commands, %d ssh attaches killed mid-output, %d API requests in bursts of 100; "+
		"RSS baseline %d MiB, peak %d MiB, settled %d MiB after %v; descriptors baseline %d, peak %d, settled %d",
		load, res.Lines, res.Reconnects, commands, attaches, requests,
		baseRSS>>20, peakRSS>>20, rss>>20, time.Since(ended).Round(100*time.Millisecond), baseFDs, peakFDs, fds)

	// Still serving.
	if out, err := exec.Command("ssh", s.opensshArgs("alice@127.0.0.1", "demo", "echo", "fine")...).CombinedOutput(); err != nil || !strings.Contains(string(out), "fine") {
		t.Fatalf("ssh after the soak: %v: %s", err, out)
	}
}
