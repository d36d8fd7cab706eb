package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// promptMarker is what bash's readline writes as it starts reading a
// command line (bracketed paste on): the first prompt of every shell here.
const promptMarker = "\x1b[?2004h"

// firstPrompt waits for a new session's shell to prompt. A first byte
// alone would not do: codeterm over SSH starts with a repaint of the
// (empty) screen before the shell has written anything.
func (t *term) firstPrompt(timeout time.Duration) error {
	_, err := t.waitFor(promptMarker, timeout)
	return err
}

// firstOutput waits for any output.
func (t *term) firstOutput(timeout time.Duration) error {
	t.out.SetReadDeadline(time.Now().Add(timeout))
	if _, err := t.out.Read(t.buf); err != nil {
		return fmt.Errorf("no output: %w", err)
	}
	return nil
}

// readAll reads until the output ends and returns it.
func (t *term) readAll(timeout time.Duration) ([]byte, error) {
	out := append([]byte(nil), t.tail...)
	t.out.SetReadDeadline(time.Now().Add(timeout))
	for {
		k, err := t.out.Read(t.buf)
		out = append(out, t.buf[:k]...)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return out, fmt.Errorf("output did not end: %w", err)
			}
			return out, nil
		}
	}
}

// exitsWith runs n sessions that print R42 and exit at once, and counts the
// ones whose R42 never reached the client. Each waits for the shell's first
// prompt first, so what goes missing went missing at the exit.
func exitsWith(n int, open func() (*term, error)) (int, error) {
	lost := 0
	for i := 0; i < n; i++ {
		t, err := open()
		if err != nil {
			return 0, err
		}
		if err := t.firstPrompt(30 * time.Second); err != nil {
			t.close()
			return 0, err
		}
		t.send("echo R$((6*7)); exit\r")
		out, err := t.readAll(30 * time.Second)
		t.close()
		if err != nil {
			return 0, err
		}
		if !bytes.Contains(out, []byte("R42")) {
			lost++
		}
	}
	return lost, nil
}

// setupWith times n dials (a new client, connection and session) to the
// shell's first prompt.
func setupWith(n int, dial func() (*term, error)) ([]time.Duration, error) {
	var d []time.Duration
	for i := 0; i < n; i++ {
		start := time.Now()
		t, err := dial()
		if err != nil {
			return nil, err
		}
		err = t.firstPrompt(30 * time.Second)
		d = append(d, time.Since(start))
		t.close()
		if err != nil {
			return nil, err
		}
	}
	return d, nil
}

// sessionsPerSecond creates n sessions one at a time on an open connection,
// each timed from the request to its shell's first prompt and ended before
// the next; it returns n over the time taken.
func sessionsPerSecond(create func() (*term, error), n int) (float64, error) {
	var total time.Duration
	for i := 0; i < n; i++ {
		start := time.Now()
		t, err := create()
		if err != nil {
			return 0, err
		}
		err = t.firstPrompt(30 * time.Second)
		total += time.Since(start)
		t.close()
		if err != nil {
			return 0, err
		}
	}
	return float64(n) / total.Seconds(), nil
}

// codetermOnly measures what only codeterm has: several clients on one
// session (fan-out) and a late joiner's first screen (attach).
func codetermOnly(res *results, e *env, c *conns, p plan) error {
	defer timed("fan-out and attach", time.Now())
	for _, n := range p.fanOut {
		for _, transport := range []string{"SSH", "Socket.IO"} {
			f, err := fanOut(e, c, transport, n, 0)
			if err != nil {
				return fmt.Errorf("fan-out to %d over %s: %w", n, transport, err)
			}
			res.add(fmt.Sprintf("fan-out: %d clients on one session, MiB/s per client (%d MiB cat)", n, p.fanBytes>>20), "codeterm over "+transport, f.mibs)
			res.add(fmt.Sprintf("fan-out: %d clients on one session, output delivered, %%", n), "codeterm over "+transport, 100*f.delivered)
		}
	}
	d, err := attachTimes(e, c, p.attaches)
	if err != nil {
		return fmt.Errorf("attach: %w", err)
	}
	for transport, times := range d {
		res.add("late joiner: dial to a complete first screen (200x60, busy session), ms", "codeterm over "+transport, ms(medianDuration(times)))
	}
	res.note("fan-out: every client reads in its own goroutine of the benchmark; per-client MiB/s is the bytes it received over the time from the cat's start to its END marker; the shell runs at the pace of the fastest client, and a client behind it by more than its queue gets a repaint in place of its backlog, which shows as delivered below 100%%")
	res.note("fan-out and late joiners are codeterm's alone: OpenSSH, node-pty + socket.io and wetty give every connection its own shell")
	return pacing(res, e, c, p)
}

// fanOutOnly is -only fanout: the fan-out rows alone, for this server and
// the -baseline one in the same run, so that a change shows as a ratio.
// The order of servers and transports turns with the round: the 50-client
// rows moved by 1.5x between two runs of the same code.
func fanOutOnly(res *results, e *env, c *conns, p plan, round int) error {
	defer timed("fan-out", time.Now())
	servers := []struct {
		suffix string
		ct     *codetermServer
		sio    *sioTerms
	}{{"", e.codeterm, c.ctSIO}}
	if e.before != nil {
		servers = append(servers, struct {
			suffix string
			ct     *codetermServer
			sio    *sioTerms
		}{", before", e.before, c.bfSIO})
	}
	transports := []string{"SSH", "Socket.IO"}
	if round%2 == 0 {
		transports[0], transports[1] = transports[1], transports[0]
		slices.Reverse(servers)
	}
	for _, n := range p.fanOut {
		for _, sv := range servers {
			for _, transport := range transports {
				f, err := fanOutTo(e, sv.ct, sv.sio, transport, n, 0)
				if err != nil {
					return fmt.Errorf("fan-out to %d over %s%s: %w", n, transport, sv.suffix, err)
				}
				sys := "codeterm over " + transport + sv.suffix
				res.add(fmt.Sprintf("fan-out: %d clients on one session, MiB/s per client (%d MiB cat)", n, p.fanBytes>>20), sys, f.mibs)
				res.add(fmt.Sprintf("fan-out: %d clients on one session, output delivered, %%", n), sys, 100*f.delivered)
			}
		}
	}
	return nil
}

// fanResult is what a fan-out measures: medians over the clients that read
// as fast as they can, and the slow readers' share and repaints.
type fanResult struct {
	mibs, delivered float64
	slowDelivered   float64
	slowRepaints    int
}

// fanOut attaches n clients to one session, has it cat the fan-out text,
// and returns each client's MiB/s and share of the output (medians). The
// last slow of them read slowly (see slowReader).
func fanOut(e *env, c *conns, transport string, n, slow int) (fanResult, error) {
	return fanOutTo(e, e.codeterm, c.ctSIO, transport, n, slow)
}

// fanOutTo is fanOut on a given codeterm server (this one or -baseline's),
// whose Socket.IO connection sio creates the session.
func fanOutTo(e *env, ct *codetermServer, sio *sioTerms, transport string, n, slow int) (f fanResult, err error) {
	first, s0, err := sio.create(ct.workspaces["fan"], 120, 40)
	if err != nil {
		return f, err
	}
	id := s0.id
	terms := []*term{}
	var closers []func()
	defer func() {
		// The session ends (exit, or kill-terminal after a failure); then
		// every client has its end of output.
		if err != nil {
			sio.c.emit("kill-terminal", `{"sessionId":`+jsonQuote(id)+`}`)
		}
		for _, t := range append(terms, first) {
			select {
			case <-t.done:
			case <-time.After(10 * time.Second):
				t.kill()
			}
			t.out.Close()
		}
		for _, f := range closers {
			f()
		}
	}()
	if err := first.ready(); err != nil {
		return f, err
	}
	if transport == "SSH" {
		sio.detach(s0)
		for i := 0; i < n; i++ {
			cl, err := dialSSH(ct.sshPort, ct.user, e.key)
			if err != nil {
				return f, err
			}
			closers = append(closers, func() { cl.Close() })
			t, err := sshTerm(cl, "fan/"+id, 120, 40)
			if err != nil {
				return f, err
			}
			terms = append(terms, t)
		}
	} else {
		terms = append(terms, first)
		for i := 1; i < n; i++ {
			cl, err := dialTerms(ct.httpURL, ct.token)
			if err != nil {
				return f, err
			}
			closers = append(closers, cl.close)
			t, _, err := cl.attach(id, 120, 40)
			if err != nil {
				return f, err
			}
			terms = append(terms, t)
		}
	}
	// Everyone sees the same marker live before the cat starts.
	if err := terms[0].send("echo SYNC-$((2+2))\r"); err != nil {
		return f, err
	}
	if err := each(terms, func(t *term) error { _, err := t.waitFor("SYNC-4", 30*time.Second); return err }); err != nil {
		return f, err
	}
	start := time.Now()
	if err := terms[0].send("cat " + e.fanFile + "; echo END-$((30+3))\r"); err != nil {
		return f, err
	}
	fast := len(terms) - slow
	rates := make([]float64, fast)
	shares := make([]float64, fast)
	var slowShares []float64
	var mu sync.Mutex
	err = each(terms, func(t *term) error {
		i := indexOf(terms, t)
		if i >= fast {
			n, repaints, err := slowReader(t, "END-33", 5*time.Minute)
			mu.Lock()
			slowShares = append(slowShares, min(1, float64(n)/float64(e.fanBytes)))
			f.slowRepaints += repaints
			mu.Unlock()
			return err
		}
		n, err := t.waitFor("END-33", 5*time.Minute)
		rates[i] = float64(n) / (1 << 20) / time.Since(start).Seconds()
		shares[i] = min(1, float64(n)/float64(e.fanBytes))
		return err
	})
	if err != nil {
		return f, err
	}
	if err := terms[0].send("exit\r"); err != nil {
		return f, err
	}
	f.mibs, f.delivered = median(rates), median(shares)
	if slow > 0 {
		f.slowDelivered = median(slowShares)
	}
	return f, nil
}

func indexOf(terms []*term, t *term) int {
	for i, x := range terms {
		if x == t {
			return i
		}
	}
	return -1
}

// each runs f on every term at once.
func each(terms []*term, f func(*term) error) error {
	var wg sync.WaitGroup
	errs := make([]error, len(terms))
	for i, t := range terms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(t)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// The busy screen: 59 full rows of coloured text, FULL-42 on the last row,
// and a counter redrawn in the top-left corner about 150 times a second.
const busyScreen = `stty -echo; printf -v L '%*s' 197 ''; L=${L// /#}; clear; ` +
	`for i in $(seq 1 59); do printf '\e[3%dm%03d%s\e[0m\r\n' $((i%8)) $i "$L"; done; printf 'FULL-%d' $((40+2)); ` +
	`while :; do printf '\e7\e[1;1H%06d\e8' $((n++)); sleep 0.005; done` + "\r"

// attachTimes starts a busy 200x60 session and times late joiners over SSH
// and Socket.IO from the dial to the screen's last row.
func attachTimes(e *env, c *conns, n int) (map[string][]time.Duration, error) {
	ct := e.codeterm
	creator, s, err := c.ctSIO.create(ct.workspaces["att"], 200, 60)
	if err != nil {
		return nil, err
	}
	defer func() {
		creator.kill()
		creator.out.Close()
	}()
	if err := creator.ready(); err != nil {
		return nil, err
	}
	if err := creator.send(busyScreen); err != nil {
		return nil, err
	}
	if _, err := creator.waitFor("FULL-42", 30*time.Second); err != nil {
		return nil, err
	}
	// The creator keeps reading, as an open browser tab would.
	go func() {
		for {
			if _, err := creator.out.Read(creator.buf); err != nil {
				return
			}
		}
	}()
	out := map[string][]time.Duration{}
	for i := 0; i < n; i++ {
		start := time.Now()
		cl, err := dialSSH(ct.sshPort, ct.user, e.key)
		if err != nil {
			return nil, err
		}
		t, err := sshTerm(cl, "att/"+s.id, 200, 60)
		if err == nil {
			_, err = t.waitFor("FULL-42", 30*time.Second)
		}
		d := time.Since(start)
		cl.Close()
		if t != nil {
			<-t.done
			t.out.Close()
		}
		if err != nil {
			return nil, fmt.Errorf("ssh: %w", err)
		}
		out["SSH"] = append(out["SSH"], d)

		start = time.Now()
		sc, err := dialTerms(ct.httpURL, ct.token)
		if err != nil {
			return nil, err
		}
		t, _, err = sc.attach(s.id, 200, 60)
		if err == nil {
			_, err = t.waitFor("FULL-42", 30*time.Second)
		}
		d = time.Since(start)
		sc.close()
		if t != nil {
			t.out.Close()
		}
		if err != nil {
			return nil, fmt.Errorf("socket.io: %w", err)
		}
		out["Socket.IO"] = append(out["Socket.IO"], d)
	}
	return out, nil
}

// scaleIdle is how long the scale phase's largest step stays idle before
// its second reading.
const scaleIdle = 30 * time.Second

// scale holds many idle attached sessions open on each server and reads the
// server's memory (PSS) per session. codeterm gets a fresh server for each
// transport: a Go heap that held the previous test's sessions would blur the
// baseline.
func scale(ctx context.Context, res *results, e *env, p plan) error {
	type target struct {
		name  string
		begin func() error // starts what the target needs
		pids  func() []int
		open  func(i int) (func(), error) // opens session i; returns its closer
		end   func()                      // ends what begin and open left behind
	}
	var ct *codetermServer
	var creator *sioTerms
	var created []*sioSess
	fresh := func(name, src, bin string) func() error {
		return func() error {
			var err error
			if ct, err = startCodetermFrom(ctx, e, name, src, bin); err != nil {
				return err
			}
			creator, err = dialTerms(ct.httpURL, ct.token)
			return err
		}
	}
	stop := func() {
		for _, s := range created {
			creator.c.emit("kill-terminal", `{"sessionId":`+jsonQuote(s.id)+`}`)
		}
		created = nil
		creator.close()
		ct.stop()
	}
	codetermPids := func() []int { return []int{ct.pid()} }
	sshOpen := func(i int) (func(), error) {
		// Created over Socket.IO and left there detached: SSH cannot
		// start a second session in a workspace.
		ws := fmt.Sprintf("s%d", i/maxPerWorkspace)
		t, s, err := creator.create(ct.workspaces[ws], 120, 40)
		if err != nil {
			return nil, err
		}
		if err := t.firstPrompt(30 * time.Second); err != nil {
			return nil, err
		}
		creator.detach(s)
		t.out.Close()
		created = append(created, s)
		cl, err := dialSSH(ct.sshPort, ct.user, e.key)
		if err != nil {
			return nil, err
		}
		st, err := sshTerm(cl, ws+"/"+s.id, 120, 40)
		if err != nil {
			cl.Close()
			return nil, err
		}
		if err := st.firstOutput(30 * time.Second); err != nil { // the repaint
			cl.Close()
			return nil, err
		}
		return func() { cl.Close(); st.out.Close() }, nil
	}
	sioOpen := func(i int) (func(), error) {
		return sioIdle(ct.httpURL, ct.token, ct.workspaces[fmt.Sprintf("s%d", i/maxPerWorkspace)], true)
	}
	targets := []target{
		{name: "codeterm over SSH", begin: fresh("scale-ssh", ".", "codeterm"), pids: codetermPids, open: sshOpen, end: stop},
		{name: "codeterm over Socket.IO", begin: fresh("scale-sio", ".", "codeterm"), pids: codetermPids, open: sioOpen, end: stop},
	}
	if e.before != nil {
		targets = append(targets,
			target{name: "codeterm over SSH, before", begin: fresh("scale-ssh-before", baseline, "codeterm-before"), pids: codetermPids, open: sshOpen, end: stop},
			target{name: "codeterm over Socket.IO, before", begin: fresh("scale-sio-before", baseline, "codeterm-before"), pids: codetermPids, open: sioOpen, end: stop})
	}
	targets = append(targets, []target{
		{
			name: "OpenSSH",
			pids: func() []int { return sshdPids(e.openssh.cmd.Process.Pid) },
			open: func(i int) (func(), error) {
				cl, err := dialSSH(e.openssh.port, "root", e.key)
				if err != nil {
					return nil, err
				}
				t, err := sshTerm(cl, "", 120, 40)
				if err == nil {
					err = t.firstPrompt(30 * time.Second)
				}
				if err != nil {
					cl.Close()
					return nil, err
				}
				return func() { cl.Close(); t.out.Close() }, nil
			},
		},
	}...)
	if e.nodePTY != nil {
		targets = append(targets, target{
			name: "node-pty + socket.io",
			pids: func() []int { return []int{e.nodePTY.pid()} },
			open: func(int) (func(), error) { return sioIdle(e.nodePTY.url, "", "bench", false) },
		})
	}
	if e.wetty != nil {
		targets = append(targets, target{
			name: "wetty",
			pids: func() []int { return []int{e.wetty.pid()} },
			open: func(int) (func(), error) { return wettyIdle(e.wetty) },
		})
	}
	if strings.Contains(only, "scale") {
		// -only scale: codeterm's rows alone (and the baseline's).
		var keep []target
		for _, tg := range targets {
			if strings.HasPrefix(tg.name, "codeterm") {
				keep = append(keep, tg)
			}
		}
		targets = keep
	}
	if max := p.scale[len(p.scale)-1]; max > maxPerWorkspace*6 {
		return fmt.Errorf("%d sessions need more than 6 workspaces of %d", max, maxPerWorkspace)
	}
	for _, tg := range targets {
		if tg.begin != nil {
			if err := tg.begin(); err != nil {
				return fmt.Errorf("%s: %w", tg.name, err)
			}
		}
		time.Sleep(time.Second) // let the server settle (not waiting for output)
		before := pss(tg.pids())
		var closers []func()
		finish := func() {
			for _, f := range closers {
				f()
			}
			if tg.end != nil {
				tg.end()
			}
		}
		opened := 0
		for _, n := range p.scale {
			for ; opened < n; opened++ {
				f, err := tg.open(opened)
				if err != nil {
					finish()
					return fmt.Errorf("%s: session %d: %w", tg.name, opened+1, err)
				}
				closers = append(closers, f)
			}
			time.Sleep(time.Second) // let the server settle (not waiting for output)
			per := float64(pss(tg.pids())-before) / float64(n)
			if n == p.scale[len(p.scale)-1] {
				// The same sessions again once they have been idle a
				// while, as most of a server's sessions are: each
				// server's own idle-time work has happened by then
				// (codeterm packs quiet screens after 10s and gives
				// freed memory back after 10s of quiet; Node collects).
				time.Sleep(scaleIdle)
				per := float64(pss(tg.pids())-before) / float64(n)
				res.add(fmt.Sprintf("idle attached sessions: server memory per session at %d sessions, idle %v, KiB (PSS)", n, scaleIdle), tg.name, per)
			}
			if scaleHold > 0 && n == p.scale[len(p.scale)-1] {
				log.Printf("scale: %s: holding %d sessions for %v (pids %v)", tg.name, n, scaleHold, tg.pids())
				select {
				case <-time.After(scaleHold):
				case <-ctx.Done(): // interrupted: end the sessions and stop
					finish()
					return ctx.Err()
				}
			}
			res.add(fmt.Sprintf("idle attached sessions: server memory per session at %d sessions, KiB (PSS)", n), tg.name, per)
		}
		finish()
		log.Printf("scale: %s done", tg.name)
	}
	res.note("server memory is the proportional set size (smaps_rollup) of the server's processes (codeterm, started afresh for each transport; the sshd listener and its per-connection sshd processes; the node process) before and after, divided by the sessions; the shells are not counted. Measured once, after the rounds: a second after the step's last session printed its prompt, and at the largest step again after the sessions have been idle for %v. The Node servers' garbage collector moves their PSS by a few MiB either way, so at 100 sessions their figures are within noise (even below zero); the 500-session figures are the ones to read", scaleIdle)
	return nil
}

// sioIdle opens a connection with one terminal and leaves it idle.
func sioIdle(url, token, workspace string, kill bool) (func(), error) {
	cl, err := dialTerms(url, token)
	if err != nil {
		return nil, err
	}
	t, _, err := cl.create(workspace, 120, 40)
	if err == nil {
		err = t.firstPrompt(30 * time.Second)
	}
	if err != nil {
		cl.close()
		return nil, err
	}
	return func() {
		if kill {
			t.kill() // codeterm's sessions outlive their sockets
		}
		cl.close()
		t.out.Close()
	}, nil
}

// wettyIdle opens a wetty socket (wetty starts a shell for each) and waits
// for the shell's first output.
func wettyIdle(w *nodeServer) (func(), error) {
	got := make(chan struct{})
	var once sync.Once
	c, err := dialSIO(w.url, w.path, "", func(ev string, _ []byte) {
		if ev == "data" {
			once.Do(func() { close(got) })
		}
	})
	if err != nil {
		return nil, err
	}
	select {
	case <-got:
		return c.close, nil
	case <-time.After(30 * time.Second):
		c.close()
		return nil, errors.New("wetty: no output")
	}
}

// sshdPids is the sshd listener and its sshd descendants (not the shells).
func sshdPids(root int) []int {
	parent := map[int]int{}
	comm := map[int]string{}
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(stat)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < 0 {
			continue
		}
		f := strings.Fields(s[close+1:])
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		parent[pid] = ppid
		comm[pid] = s[open+1 : close]
	}
	var out []int
	for pid := range parent {
		if !strings.HasPrefix(comm[pid], "sshd") {
			continue
		}
		for p := pid; p > 1; p = parent[p] {
			if p == root {
				out = append(out, pid)
				break
			}
		}
	}
	sort.Ints(out)
	return out
}

// pss sums the Pss of processes, in KiB.
func pss(pids []int) int64 {
	var total int64
	for _, pid := range pids {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(data), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "Pss:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				total += kb
			}
		}
	}
	return total
}
