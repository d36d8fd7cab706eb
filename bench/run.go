package main

import (
	"context"
	"fmt"
	"log"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// system is one way of reaching a shell. Nil functions are not measured.
type system struct {
	name string
	// open starts an interactive client (throughput, echo, exit integrity).
	// The raw PTY's throughput reads cat straight from a PTY instead.
	open func() (*term, error)
	// exits runs n sessions of `echo R; exit` and returns how many lost R.
	exits func(n int) (int, error)
	// setup times n connections from the dial to the shell's first prompt.
	setup func(n int) ([]time.Duration, error)
	// create starts one more session on an established connection.
	create func() (*term, error)
	// cpu is the CPU time the server and the shells it started and reaped
	// have used so far; nil where that cannot be told apart.
	cpu func() time.Duration
}

// conns are the long-lived client connections of a run.
type conns struct {
	ctSSH, osSSH, bfSSH *ssh.Client
	ctSIO, npSIO, bfSIO *sioTerms
	nlSIO               *sioTerms   // node-pty with login shells
	brSSH               *ssh.Client // codeterm with node-pty's shell
	brSIO               *sioTerms   // the same
}

func (c *conns) close() {
	for _, s := range []*ssh.Client{c.ctSSH, c.osSSH, c.bfSSH, c.brSSH} {
		if s != nil {
			s.Close()
		}
	}
	for _, s := range []*sioTerms{c.ctSIO, c.npSIO, c.bfSIO, c.nlSIO, c.brSIO} {
		if s != nil {
			s.close()
		}
	}
}

func run(ctx context.Context, p plan) (string, error) {
	e, err := setup(ctx, p)
	if err != nil {
		return "", err
	}
	defer e.close()
	res := newResults()
	c := &conns{}
	defer c.close()
	if c.ctSSH, err = dialSSH(e.codeterm.sshPort, e.codeterm.user, e.key); err != nil {
		return "", fmt.Errorf("codeterm ssh: %w", err)
	}
	if c.osSSH, err = dialSSH(e.openssh.port, "root", e.key); err != nil {
		return "", fmt.Errorf("openssh: %w", err)
	}
	if c.ctSIO, err = dialTerms(e.codeterm.httpURL, e.codeterm.token); err != nil {
		return "", fmt.Errorf("codeterm socket.io: %w", err)
	}
	if bf := e.before; bf != nil {
		if c.bfSSH, err = dialSSH(bf.sshPort, bf.user, e.key); err != nil {
			return "", fmt.Errorf("codeterm (baseline) ssh: %w", err)
		}
		if c.bfSIO, err = dialTerms(bf.httpURL, bf.token); err != nil {
			return "", fmt.Errorf("codeterm (baseline) socket.io: %w", err)
		}
	}
	if c.brSSH, err = dialSSH(e.bare.sshPort, e.bare.user, e.key); err != nil {
		return "", fmt.Errorf("codeterm (bare shell) ssh: %w", err)
	}
	if c.brSIO, err = dialTerms(e.bare.httpURL, e.bare.token); err != nil {
		return "", fmt.Errorf("codeterm (bare shell) socket.io: %w", err)
	}
	if e.nodePTY != nil {
		if c.npSIO, err = dialTerms(e.nodePTY.url, ""); err != nil {
			return "", fmt.Errorf("node-pty socket.io: %w", err)
		}
	}
	if e.nodeLogin != nil {
		if c.nlSIO, err = dialTerms(e.nodeLogin.url, ""); err != nil {
			return "", fmt.Errorf("node-pty (login shells) socket.io: %w", err)
		}
	}
	systems := e.systems(c, res)
	if only != "" {
		var keep []system
		for _, s := range systems {
			for _, o := range strings.Split(only, ",") {
				if strings.Contains(s.name, o) {
					keep = append(keep, s)
					break
				}
			}
		}
		systems = keep
	}
	for round := 1; round <= p.rounds; round++ {
		// Rotate the order too, so no system always runs first.
		for i := range systems {
			sys := systems[(i+round-1)%len(systems)]
			if ctx.Err() != nil {
				return "", ctx.Err()
			}
			if err := measureSystem(res, sys, e, p, round); err != nil {
				return "", fmt.Errorf("round %d, %s: %w (codeterm's log: %s)", round, sys.name, err, e.codeterm.logPath)
			}
		}
		if only != "" || createsOnly {
			// -only pacing: the pacing phases alone (codetermOnly runs them too).
			if strings.Contains(only, "pacing") {
				if err := pacing(res, e, c, p); err != nil {
					return "", fmt.Errorf("round %d: %w (codeterm's log: %s)", round, err, e.codeterm.logPath)
				}
			}
			// -only fanout: the fan-out rows alone (codetermOnly runs them too).
			if strings.Contains(only, "fanout") {
				if err := fanOutOnly(res, e, c, p, round); err != nil {
					return "", fmt.Errorf("round %d: %w (codeterm's log: %s)", round, err, e.codeterm.logPath)
				}
			}
			continue
		}
		if err := codetermOnly(res, e, c, p); err != nil {
			return "", fmt.Errorf("round %d: %w (codeterm's log: %s)", round, err, e.codeterm.logPath)
		}
		log.Printf("round %d/%d done", round, p.rounds)
	}
	if !createsOnly && (only == "" || strings.Contains(only, "scale")) {
		if err := scale(ctx, res, e, p); err != nil {
			return "", fmt.Errorf("scale: %w", err)
		}
	}
	if !createsOnly && (only == "" || strings.Contains(only, "soak")) {
		if err := soak(ctx, res, e, p); err != nil {
			return "", fmt.Errorf("soak: %w (codeterm's log: %s)", err, e.codeterm.logPath)
		}
	}
	header := []string{
		"clients: OpenSSH's `ssh -tt` for throughput, echo and set-up over SSH; x/crypto/ssh in the benchmark for exit runs, sessions/s, fan-out, attach and scale; " +
			"\"Go client\" is the benchmark's own Engine.IO 4/Socket.IO 5 websocket client (no compression); \"socket.io-client\" is the real socket.io-client 4.8 in Node " +
			"(bench/node/client.mjs, permessage-deflate offered as a browser does), its output written to a pipe the benchmark reads",
		"node-pty + socket.io is bench/node/server.mjs: node-pty 1.1 behind socket.io 4.8, emitting each chunk node-pty reads, as the replaced server did",
		tcpRelay + " is the benchmark run as a process of its own (bench/relay.go) that accepts one TCP connection, starts bash on a PTY and copies bytes both ways, " +
			"a goroutine each, with no protocol: the least a Go server on this machine adds to the raw PTY; like the raw PTY it is left out of \"vs best peer\"",
	}
	names := make([]string, 0, len(systems))
	for _, s := range systems {
		names = append(names, s.name)
	}
	names = append(names, "codeterm over SSH", "codeterm over Socket.IO", "node-pty + socket.io", "wetty") // scale's rows
	if e.before != nil {
		names = append(names, "codeterm over SSH, before", "codeterm over Socket.IO, before") // -only fanout's and soak's
	}
	return report(p, res, uniq(names), header), nil
}

func uniq(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// systems lists what this machine can measure; what it cannot goes to the
// report's notes.
func (e *env) systems(c *conns, res *results) []system {
	ct := e.codeterm
	sshArgs := func(port string, target ...string) []string { return append(e.sshArgs(port), target...) }
	out := []system{
		{
			name:  rawPTY,
			open:  func() (*term, error) { return startPTY(e.home) },
			exits: func(n int) (int, error) { return exitsWith(n, func() (*term, error) { return startPTY(e.home) }) },
			setup: func(n int) ([]time.Duration, error) {
				return setupWith(n, func() (*term, error) { return startPTY(e.home) })
			},
			create: func() (*term, error) { return startPTY(e.home) },
			cpu:    childrenCPU,
		},
		{
			name:  tcpRelay,
			open:  func() (*term, error) { return startRelay(e.home) },
			exits: func(n int) (int, error) { return exitsWith(n, func() (*term, error) { return startRelay(e.home) }) },
			setup: func(n int) ([]time.Duration, error) {
				return setupWith(n, func() (*term, error) { return startRelay(e.home) })
			},
		},
		codetermSSHSystem("codeterm over SSH", ct, c.ctSSH, sshArgs),
		{
			name: "OpenSSH",
			open: func() (*term, error) { return startSSH(sshArgs(e.openssh.port, "root@127.0.0.1")) },
			exits: func(n int) (int, error) {
				return exitsWith(n, func() (*term, error) { return sshTerm(c.osSSH, "", 120, 40) })
			},
			setup: func(n int) ([]time.Duration, error) {
				return setupWith(n, func() (*term, error) { return startSSH(sshArgs(e.openssh.port, "root@127.0.0.1")) })
			},
			create: func() (*term, error) { return sshTerm(c.osSSH, "", 120, 40) },
		},
		sioSystem("codeterm over Socket.IO (Go client)", ct.httpURL, ct.token, ct.workspaces["sio"], c.ctSIO),
	}
	for i := range out {
		if out[i].name == "codeterm over SSH" || out[i].name == "codeterm over Socket.IO (Go client)" {
			out[i].cpu = ct.cpu
		}
	}
	if bf := e.before; bf != nil {
		ssh, sio := codetermSSHSystem("codeterm over SSH, before", bf, c.bfSSH, sshArgs),
			sioSystem("codeterm over Socket.IO (Go client), before", bf.httpURL, bf.token, bf.workspaces["sio"], c.bfSIO)
		ssh.cpu, sio.cpu = bf.cpu, bf.cpu
		out = append(out, ssh, sio)
	}
	{
		// Sessions/s alone: the shell node-pty and the raw PTY start.
		br := e.bare
		ssh, sio := codetermSSHSystem("codeterm over SSH, bash --noprofile --norc", br, c.brSSH, sshArgs),
			sioSystem("codeterm over Socket.IO (Go client), bash --noprofile --norc", br.httpURL, br.token, br.workspaces["sio"], c.brSIO)
		for _, sys := range []*system{&ssh, &sio} {
			sys.open, sys.exits, sys.setup, sys.cpu = nil, nil, nil, br.cpu
		}
		out = append(out, ssh, sio)
	}
	ctNode := nodeClient{url: ct.httpURL, path: "/socket.io", token: ct.token, workspace: ct.workspaces["sio"], proto: "seed"}
	if e.nodeErr == nil {
		out = append(out, nodeSystem("codeterm over Socket.IO (socket.io-client)", ctNode))
		if bf := e.before; bf != nil {
			out = append(out, nodeSystem("codeterm over Socket.IO (socket.io-client), before",
				nodeClient{url: bf.httpURL, path: "/socket.io", token: bf.token, workspace: bf.workspaces["sio"], proto: "seed"}))
		}
	} else {
		res.note("codeterm over Socket.IO with socket.io-client: %v", e.nodeErr)
	}
	if e.nodePTY != nil {
		np := sioSystem("node-pty + socket.io (Go client)", e.nodePTY.url, "", "bench", c.npSIO)
		np.cpu = func() time.Duration { return processCPU(e.nodePTY.pid()) }
		out = append(out,
			np,
			nodeSystem("node-pty + socket.io (socket.io-client)", nodeClient{url: e.nodePTY.url, path: "/socket.io", workspace: "bench", proto: "seed"}))
	} else {
		res.note("node-pty + socket.io: %v", e.nodeErr)
	}
	if e.nodeLogin != nil {
		// Sessions/s alone (no open): the same server with the shell that
		// codeterm and OpenSSH start, a login shell.
		nl := sioSystem("node-pty + socket.io, login shell (Go client)", e.nodeLogin.url, "", "bench", c.nlSIO)
		nl.open, nl.exits, nl.setup = nil, nil, nil
		nl.cpu = func() time.Duration { return processCPU(e.nodeLogin.pid()) }
		out = append(out, nl)
	}
	if e.wetty != nil {
		out = append(out, nodeSystem("wetty (socket.io-client)", nodeClient{url: e.wetty.url, path: e.wetty.path, proto: "wetty"}))
		res.note("wetty 3.2 runs `bash` on a local PTY for each socket (as root with --ssh-host localhost; as any other user it would ssh to localhost); " +
			"each socket is its own session, so it has no sessions/s on one connection, no fan-out and no late joiner")
	} else {
		res.note("wetty: %v", e.wettyErr)
	}
	return out
}

// codetermSSHSystem is a codeterm server reached over SSH: OpenSSH's client
// for throughput, echo and set-up, the long-lived x/crypto client cl for
// the rest.
func codetermSSHSystem(name string, ct *codetermServer, cl *ssh.Client, sshArgs func(string, ...string) []string) system {
	open := func() (*term, error) { return startSSH(sshArgs(ct.sshPort, ct.user+"@127.0.0.1", "demo")) }
	create := func() (*term, error) { return sshTerm(cl, "demo", 120, 40) }
	return system{
		name:   name,
		open:   open,
		exits:  func(n int) (int, error) { return exitsWith(n, create) },
		setup:  func(n int) ([]time.Duration, error) { return setupWith(n, open) },
		create: create,
	}
}

// sioSystem is a server speaking the seed's events, reached with the Go client.
func sioSystem(name, url, token, workspace string, shared *sioTerms) system {
	dial := func() (*term, error) {
		c, err := dialTerms(url, token)
		if err != nil {
			return nil, err
		}
		t, _, err := c.create(workspace, 120, 40)
		if err != nil {
			c.close()
			return nil, err
		}
		kill := t.kill
		t.kill = func() { kill(); c.close() }
		t.after = c.close
		return t, nil
	}
	create := func() (*term, error) {
		t, _, err := shared.create(workspace, 120, 40)
		return t, err
	}
	return system{
		name:   name,
		open:   dial,
		exits:  func(n int) (int, error) { return exitsWith(n, create) },
		setup:  func(n int) ([]time.Duration, error) { return setupWith(n, dial) },
		create: create,
	}
}

// nodeSystem is a server reached with socket.io-client in Node.
func nodeSystem(name string, c nodeClient) system {
	return system{name: name, open: c.term, exits: c.exits, setup: c.setup}
}

var (
	verbose   bool          // log how long each part takes
	only      string        // measure only the systems whose names contain one of these (comma-separated)
	baseline  string        // a codeterm source tree to measure beside this one
	scaleHold time.Duration // -scale-hold
	// createsOnly measures sessions/s alone (and skips the systems that
	// have none, and every codeterm-only phase).
	createsOnly bool
)

func timed(what string, start time.Time) {
	if verbose {
		log.Printf("%s: %v", what, time.Since(start).Round(time.Millisecond))
	}
}

func measureSystem(res *results, sys system, e *env, p plan, round int) error {
	defer timed(sys.name, time.Now())
	if createsOnly || sys.open == nil {
		return measureCreates(res, sys, p)
	}
	start := time.Now()
	var mibs, delivered float64
	var lost int64
	var err error
	if sys.name == rawPTY {
		var n int64
		mibs, n, err = rawThroughput(e.textFile)
		delivered, lost = min(1, float64(n)/float64(e.ptyBytes)), max(0, e.ptyBytes-n)
	} else {
		var t *term
		if t, err = sys.open(); err != nil {
			return err
		}
		// The server's own CPU: the shell running cat is its child but
		// not reaped yet, so none of the shell's time is in it.
		var cpu0 time.Duration
		if sys.cpu != nil {
			cpu0 = sys.cpu()
		}
		mibs, delivered, lost, err = throughput(t, e.textFile, e.ptyBytes)
		if err == nil && sys.cpu != nil {
			res.add("server CPU per MiB of cat, ms", sys.name, ms(sys.cpu()-cpu0)/(float64(e.ptyBytes)/(1<<20)))
		}
		t.close()
	}
	if err != nil {
		return fmt.Errorf("throughput: %w", err)
	}
	timed("  throughput", start)
	start = time.Now()
	res.add("cat throughput, MiB/s", sys.name, mibs)
	res.add("cat output delivered, %", sys.name, 100*delivered)
	res.add(fmt.Sprintf("bytes lost when the shell exits right after a %d MiB cat", p.catBytes>>20), sys.name, float64(lost))
	res.note("bytes lost after the cat is the output that never reached the client (expected minus received). For codeterm it includes what a lagging client was skipped by design (see delivered %%), so it is not only loss at the exit; the `echo R; exit` runs measure the exit alone")

	t, err := sys.open()
	if err != nil {
		return err
	}
	p50, p99, err := echo(t, p.keystrokes)
	t.close()
	if err != nil {
		return fmt.Errorf("echo: %w", err)
	}
	res.add("echo p50, µs", sys.name, float64(p50.Microseconds()))
	res.add("echo p99, µs", sys.name, float64(p99.Microseconds()))
	timed("  echo", start)
	start = time.Now()

	if n := share(p.exitRuns, p.rounds, round); n > 0 {
		lostRuns, err := sys.exits(n)
		if err != nil {
			return fmt.Errorf("exit runs: %w", err)
		}
		res.add(fmt.Sprintf("`echo R; exit` runs whose R was lost, of %d (total over all rounds)", p.exitRuns), sys.name, float64(lostRuns))
	}

	timed("  exit runs", start)
	start = time.Now()
	d, err := sys.setup(p.dials)
	if err != nil {
		return fmt.Errorf("set-up: %w", err)
	}
	res.add("connection set-up: dial to the shell's first prompt, ms", sys.name, ms(medianDuration(d)))

	timed("  set-up", start)
	return measureCreates(res, sys, p)
}

// measureCreates adds sys's sessions per second, if it has a create.
func measureCreates(res *results, sys system, p plan) error {
	if sys.create == nil {
		return nil
	}
	defer timed("  sessions/s", time.Now())
	var cpu0 time.Duration
	if sys.cpu != nil {
		cpu0 = sys.cpu()
	}
	rate, err := sessionsPerSecond(sys.create, p.creates)
	if err != nil {
		return fmt.Errorf("sessions/s: %w", err)
	}
	res.add("sessions created per second (one at a time on an open connection, each to its first prompt)", sys.name, rate)
	if sys.cpu != nil {
		res.add("CPU per session created and ended, ms (the server and its shell; the sessions/s runs)", sys.name, ms(sys.cpu()-cpu0)/float64(p.creates))
		res.note("CPU per session counts the server process and the shells it reaped (/proc/PID/stat, 10 ms ticks, over each round's sessions), " +
			"for the raw PTY the benchmark's own shells; it is what a busy machine's wall times mostly follow. codeterm's shells are login shells with the " +
			"shell integration (/etc/profile, the user's files), node-pty's and the raw PTY's `bash --noprofile --norc`; " +
			"the rows \"..., bash --noprofile --norc\" are codeterm (a server of their own) running that shell as sessions.command, the same shell on both sides")
	}
	return nil
}

// share is round's part of total runs spread over rounds.
func share(total, rounds, round int) int {
	return total*round/rounds - total*(round-1)/rounds
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func medianDuration(d []time.Duration) time.Duration {
	f := make([]float64, len(d))
	for i, x := range d {
		f[i] = float64(x)
	}
	return time.Duration(median(f))
}
