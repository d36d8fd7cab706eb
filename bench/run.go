package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"time"
)

// system is one way of reaching a shell.
type system struct {
	name string
	// open starts an interactive client; nil for the raw PTY's throughput,
	// which reads cat straight from a PTY.
	open func() (*term, error)
}

// results collects every figure by metric and system.
type results map[string]map[string][]float64

func (r results) add(metric, sys string, v float64) {
	if r[metric] == nil {
		r[metric] = map[string][]float64{}
	}
	r[metric][sys] = append(r[metric][sys], v)
}

func run(ctx context.Context, p plan) (string, error) {
	e, err := setup(ctx, p)
	if err != nil {
		return "", err
	}
	defer e.close()

	systems := []system{
		{name: "raw PTY", open: func() (*term, error) { return startPTY(e.home) }},
		{name: "codeterm over SSH", open: func() (*term, error) {
			return startSSH(append(e.sshArgs(e.codeterm.sshPort), e.codeterm.user+"@127.0.0.1", "demo"))
		}},
		{name: "OpenSSH", open: func() (*term, error) {
			return startSSH(append(e.sshArgs(e.openssh.port), "root@127.0.0.1"))
		}},
	}
	res := results{}
	for round := 1; round <= p.rounds; round++ {
		// Rotate the order too, so no system always runs first.
		for i := range systems {
			sys := systems[(i+round-1)%len(systems)] // round 1 starts with the raw PTY, which sizes the output
			if ctx.Err() != nil {
				return "", ctx.Err()
			}
			if err := measureSystem(res, sys, e, p); err != nil {
				return "", fmt.Errorf("round %d, %s: %w", round, sys.name, err)
			}
		}
		log.Printf("round %d/%d done", round, p.rounds)
	}
	return report(p, res, systemNames(systems)), nil
}

func systemNames(s []system) []string {
	var out []string
	for _, x := range s {
		out = append(out, x.name)
	}
	return out
}

func measureSystem(res results, sys system, e *env, p plan) error {
	var mibs, delivered float64
	var err error
	if sys.name == "raw PTY" {
		mibs, e.ptyBytes, err = rawThroughput(e.textFile)
		delivered = 1
	} else {
		var t *term
		if t, err = sys.open(); err != nil {
			return err
		}
		mibs, delivered, err = throughput(t, e.textFile, e.ptyBytes)
		t.close()
	}
	if err != nil {
		return fmt.Errorf("throughput: %w", err)
	}
	res.add("cat throughput, MiB/s", sys.name, mibs)
	res.add("cat output delivered, %", sys.name, 100*delivered)

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
	return nil
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// higherIsBetter says which direction a metric improves in.
func higherIsBetter(metric string) bool {
	return strings.Contains(metric, "MiB/s") || strings.Contains(metric, "%")
}

func report(p plan, res results, order []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# codeterm benchmark results\n\n")
	fmt.Fprintf(&b, "- date: %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "- machine: %d cores, %s, kernel %s, %s\n", runtime.NumCPU(), cpuModel(), kernel(), runtime.Version())
	fmt.Fprintf(&b, "- plan: %s (%d rounds; cat of %d MiB of mixed terminal text; %d keystrokes per echo round)\n",
		p.name, p.rounds, p.catBytes>>20, p.keystrokes)
	fmt.Fprintf(&b, "- figures are medians over the rounds; systems alternate round by round\n\n")
	metrics := make([]string, 0, len(res))
	for m := range res {
		metrics = append(metrics, m)
	}
	sort.Strings(metrics)
	for _, m := range metrics {
		fmt.Fprintf(&b, "## %s\n\n| system | median | vs raw PTY | vs best peer |\n|---|---:|---:|---:|\n", m)
		raw := median(res[m]["raw PTY"])
		for _, sys := range order {
			vals, ok := res[m][sys]
			if !ok {
				continue
			}
			v := median(vals)
			best := 0.0
			for _, other := range order {
				if other == sys || other == "raw PTY" || res[m][other] == nil {
					continue
				}
				o := median(res[m][other])
				if best == 0 || (higherIsBetter(m) && o > best) || (!higherIsBetter(m) && o < best) {
					best = o
				}
			}
			fmt.Fprintf(&b, "| %s | %.1f | %s | %s |\n", sys, v, ratio(v, raw), ratio(v, best))
		}
		b.WriteString("\n")
	}
	return b.String()
}

func ratio(v, base float64) string {
	if base == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", v/base)
}

func cpuModel() string {
	data, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func kernel() string {
	out, err := exec.Command("uname", "-r").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}
