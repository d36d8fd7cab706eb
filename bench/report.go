package main

import (
	"fmt"
	"runtime"
	"sort"
	"strings"
	"time"
)

// results collects every figure by metric and system, in the order the
// metrics were first seen.
type results struct {
	order []string
	v     map[string]map[string][]float64
	notes []string // what could not be measured, and why
}

func newResults() *results { return &results{v: map[string]map[string][]float64{}} }

func (r *results) add(metric, sys string, v float64) {
	if r.v[metric] == nil {
		r.v[metric] = map[string][]float64{}
		r.order = append(r.order, metric)
	}
	r.v[metric][sys] = append(r.v[metric][sys], v)
}

func (r *results) note(format string, args ...any) {
	n := fmt.Sprintf(format, args...)
	for _, o := range r.notes {
		if o == n {
			return
		}
	}
	r.notes = append(r.notes, n)
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

// summed metrics add up their rounds (counts of runs); the others take the
// median.
func summed(metric string) bool { return strings.Contains(metric, "total over all rounds") }

func (r *results) figure(metric, sys string) (float64, bool) {
	vals, ok := r.v[metric][sys]
	if !ok {
		return 0, false
	}
	if summed(metric) {
		t := 0.0
		for _, x := range vals {
			t += x
		}
		return t, true
	}
	return median(vals), true
}

// higherIsBetter says which direction a metric improves in.
func higherIsBetter(metric string) bool {
	return strings.Contains(metric, "MiB/s") || strings.Contains(metric, "%") || strings.Contains(metric, "per second")
}

const rawPTY = "raw PTY"

func report(p plan, r *results, order []string, header []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# codeterm benchmark results\n\n")
	fmt.Fprintf(&b, "- date: %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "- machine: %d cores, %s, kernel %s, %s\n", runtime.NumCPU(), cpuModel(), kernel(), runtime.Version())
	fmt.Fprintf(&b, "- plan: %s (%d rounds; cat of %d MiB of mixed terminal text; %d keystrokes per echo round)\n",
		p.name, p.rounds, p.catBytes>>20, p.keystrokes)
	fmt.Fprintf(&b, "- figures are medians over the rounds (counts of lost runs are totals); systems alternate round by round\n")
	for _, h := range header {
		fmt.Fprintf(&b, "- %s\n", h)
	}
	b.WriteString("\n")
	for _, m := range r.order {
		fmt.Fprintf(&b, "## %s\n\n| system | %s | vs raw PTY | vs best peer |\n|---|---:|---:|---:|\n", m, map[bool]string{true: "total", false: "median"}[summed(m)])
		raw, _ := r.figure(m, rawPTY)
		for _, sys := range order {
			v, ok := r.figure(m, sys)
			if !ok {
				continue
			}
			best, have := 0.0, false
			for _, other := range order {
				if other == sys || other == rawPTY || other == tcpRelay {
					continue
				}
				o, ok := r.figure(m, other)
				if !ok {
					continue
				}
				if !have || (higherIsBetter(m) && o > best) || (!higherIsBetter(m) && o < best) {
					best, have = o, true
				}
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", sys, format(v), ratio(v, raw), ratio(v, best))
		}
		b.WriteString("\n")
	}
	if len(r.notes) > 0 {
		b.WriteString("## Not measured, and notes\n\n")
		for _, n := range r.notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func format(v float64) string {
	if v != 0 && v < 10 && v > -10 {
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

func ratio(v, base float64) string {
	if base == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", v/base)
}
