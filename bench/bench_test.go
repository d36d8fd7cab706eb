package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestShareSpreadsRunsOverRounds(t *testing.T) {
	for _, c := range []struct{ total, rounds int }{{200, 5}, {60, 3}, {7, 3}, {2, 5}} {
		sum := 0
		for r := 1; r <= c.rounds; r++ {
			sum += share(c.total, c.rounds, r)
		}
		if sum != c.total {
			t.Errorf("share(%d over %d rounds) adds up to %d", c.total, c.rounds, sum)
		}
	}
}

func TestReport(t *testing.T) {
	r := newResults()
	for _, v := range []float64{80, 90, 100} {
		r.add("cat throughput, MiB/s", rawPTY, v)
	}
	for _, v := range []float64{40, 45, 50} {
		r.add("cat throughput, MiB/s", "A", v)
	}
	r.add("cat throughput, MiB/s", "B", 30)
	r.add("echo p99, µs", "A", 200)
	r.add("echo p99, µs", "B", 400)
	r.add("lost runs (total over all rounds)", "A", 1)
	r.add("lost runs (total over all rounds)", "A", 2)
	r.note("wetty: not installed")
	out := report(quickPlan, r, []string{rawPTY, "A", "B"}, nil)
	for _, want := range []string{
		"## cat throughput, MiB/s",
		"| raw PTY | 90.0 | 1.00x | 2.00x |", // best peer for throughput: the highest (A, 45)
		"| A | 45.0 | 0.50x | 1.50x |",
		"| B | 30.0 | 0.33x | 0.67x |",
		"| A | 200.0 | - | 0.50x |", // latency: the best peer is the lowest
		"| A | 3.00 | - | - |",      // totals, not medians
		"- wetty: not installed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Index(out, "## cat throughput") > strings.Index(out, "## echo p99") {
		t.Error("metrics are not in the order they were first added")
	}
}

func TestDecodeEvent(t *testing.T) {
	ev, payload, err := decodeEvent([]byte(`["terminal-output",{"sessionId":"s1","output":"a\"b\\c\r\n\u001b[0m\u00e9\ud83d\ude00","seq":12,"timestamp":"x","repaint":true,"nested":{"a":[1,"]"]}}]`))
	if err != nil {
		t.Fatal(err)
	}
	if ev != "terminal-output" {
		t.Fatalf("event %q", ev)
	}
	fields := map[string]string{}
	if err := objectFields(payload, func(k string, v []byte) { fields[k] = string(v) }); err != nil {
		t.Fatal(err)
	}
	out, err := unquote(nil, []byte(fields["output"]))
	if err != nil {
		t.Fatal(err)
	}
	if want := "a\"b\\c\r\n\x1b[0mé😀"; string(out) != want {
		t.Errorf("output %q, want %q", out, want)
	}
	if fields["seq"] != "12" || fields["repaint"] != "true" || fields["nested"] != `{"a":[1,"]"]}` {
		t.Errorf("fields %q", fields)
	}
	if stringField(payload, "sessionId") != "s1" {
		t.Error("sessionId")
	}

	// An ack id before the array, an event without arguments.
	if ev, payload, err := decodeEvent([]byte(`12["ping"]`)); err != nil || ev != "ping" || payload != nil {
		t.Errorf("ack'd event: %q %q %v", ev, payload, err)
	}
	for _, bad := range []string{``, `{}`, `[1,2]`, `["x",`, `["x" {}]`, `["x","unterminated]`} {
		if _, _, err := decodeEvent([]byte(bad)); err == nil {
			t.Errorf("decodeEvent(%q) did not fail", bad)
		}
	}
}

func TestUnquoteRejectsBadEscapes(t *testing.T) {
	for _, bad := range []string{`"\x"`, `"\u12"`, `"abc`, `"\"`} {
		if _, err := unquote(nil, []byte(bad)); err == nil {
			t.Errorf("unquote(%q) did not fail", bad)
		}
	}
	// A lone surrogate becomes U+FFFD, as JSON.parse + UTF-8 would.
	if out, err := unquote(nil, []byte(`"\ud83dx"`)); err != nil || string(out) != "\uFFFDx" {
		t.Errorf("lone surrogate: %q %v", out, err)
	}
}

func TestJSONQuoteRoundTrips(t *testing.T) {
	for _, s := range []string{"", "plain", "\x03exit\r", `quote " and \ backslash`, "\x1b[1;31mé\x00"} {
		q := jsonQuote(s)
		out, err := unquote(nil, []byte(q))
		if err != nil || string(out) != s {
			t.Errorf("jsonQuote(%q) = %s, back %q %v", s, q, out, err)
		}
	}
}

// TestSkipValueEscapes: a string ends at the first quote after an even run
// of backslashes, whatever the runs before it.
func TestSkipValueEscapes(t *testing.T) {
	for _, s := range []string{"", `\`, `\\`, `"`, `\"`, `a\\"b`, "\\\\\\\"x", strings.Repeat(`\`, 33) + `"`, "é\x1b[0m\u2028"} {
		q, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		b := append(append([]byte(nil), q...), `,"next"]`...)
		end, err := skipValue(b, 0)
		if err != nil || end != len(q) {
			t.Errorf("skipValue(%s) = %d, %v, want %d", b, end, err, len(q))
		}
		if out, err := unquote(nil, q); err != nil || string(out) != s {
			t.Errorf("unquote(%s) = %q, %v", q, out, err)
		}
	}
	for _, bad := range []string{`"abc`, `"abc\"`, `"\\\"`} {
		if _, err := skipValue([]byte(bad), 0); err == nil {
			t.Errorf("skipValue(%s) did not fail", bad)
		}
	}
}
