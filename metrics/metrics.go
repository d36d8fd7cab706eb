// Package metrics exposes codeterm's counters in the Prometheus text format.
// The parts keep their own lock-free counters; this package reads them only
// when Prometheus scrapes, so monitoring costs the data path nothing more
// than the atomics.
package metrics

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/codeterm/codeterm/internal/counter"
	"github.com/codeterm/codeterm/sessions"
	"github.com/codeterm/codeterm/sshd"
	"github.com/codeterm/codeterm/webbridge"
	"github.com/codeterm/codeterm/workspaces"
)

// Sources are the parts to report on; a nil one is left out.
type Sources struct {
	Sessions   *sessions.Manager
	Workspaces *workspaces.Manager
	Web        *webbridge.Server
	SSH        *sshd.Server
}

// Handler serves the metrics of src and of the Go runtime and the process.
func Handler(src Sources) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&collector{src: src},
	)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// WithToken guards h with a bearer token, for metrics on the main port.
func WithToken(token string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "metrics need the bearer token of http.metrics_token", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("codeterm_"+name, help, labels, nil)
}

var (
	descSessions     = desc("sessions", "Live terminal sessions by state: attached (a client is on it) or detached.", "state")
	descAttachments  = desc("attachments", "Clients attached to sessions, by front-end and mode (write or read).", "frontend", "mode")
	descInputBytes   = desc("session_input_bytes_total", "Bytes written to shells.")
	descOutputBytes  = desc("session_output_bytes_total", "Bytes read from shells.")
	descRepaints     = desc("repaints_total", "Screens sent to clients instead of the byte stream (new clients, lost offsets, lagging clients).")
	descLags         = desc("lag_events_total", "Times a client fell behind by more than its queue and was repainted.")
	descQueued       = desc("session_queued_bytes", "Output queued in the session core for clients that have not taken it yet, by front-end.", "frontend")
	descEcho         = desc("echo_latency_seconds", "Server-side time from an input write to the first output after it.")
	descSocketConns  = desc("socketio_connections", "Open Socket.IO connections.")
	descSocketTotal  = desc("socketio_connections_total", "Socket.IO connections authenticated since start.")
	descSocketEvents = desc("socketio_events_total", "Socket.IO events by name and outcome (ok, error, rate_limited); unknown names are \"unknown\".", "event", "outcome")
	descSSHConns     = desc("ssh_connections", "Open SSH connections.")
	descSSHTotal     = desc("ssh_connections_total", "SSH connections accepted since start.")
	descSSHAuthFail  = desc("ssh_auth_failures_total", "Failed SSH authentication attempts by reason (each offered key is an attempt).", "reason")
	descOpDuration   = desc("workspace_operation_duration_seconds", "Duration of successful clones and syncs, by operation.", "op")
	descOpFailures   = desc("workspace_operation_failures_total", "Failed clones and syncs by operation (cancelled ones are not counted).", "op")
)

type collector struct{ src Sources }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSessions, descAttachments, descQueued, descInputBytes, descOutputBytes, descRepaints,
		descLags, descEcho, descSocketConns, descSocketTotal, descSocketEvents, descSSHConns, descSSHTotal,
		descSSHAuthFail, descOpDuration, descOpFailures} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	count := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	if m := c.src.Sessions; m != nil {
		st := m.Stats()
		for state, n := range st.Sessions {
			gauge(descSessions, float64(n), state)
		}
		// AttachOptions.Client is "socket" for the browser bridge.
		for _, fe := range []string{"socket", "ssh"} {
			for _, mode := range []string{"write", "read"} {
				gauge(descAttachments, float64(st.Attachments[[2]string{fe, mode}]), fe, mode)
			}
		}
		for k, n := range st.Attachments {
			if k[0] != "socket" && k[0] != "ssh" {
				gauge(descAttachments, float64(n), k[0], k[1])
			}
		}
		for _, fe := range []string{"socket", "ssh"} {
			gauge(descQueued, float64(st.QueuedBytes[fe]), fe)
		}
		for fe, n := range st.QueuedBytes {
			if fe != "socket" && fe != "ssh" {
				gauge(descQueued, float64(n), fe)
			}
		}
		count(descInputBytes, float64(st.InputBytes))
		count(descOutputBytes, float64(st.OutputBytes))
		count(descRepaints, float64(st.Repaints))
		count(descLags, float64(st.Lags))
		ch <- histogram(descEcho, st.Echo)
	}
	if w := c.src.Web; w != nil {
		st := w.Stats()
		gauge(descSocketConns, float64(st.Connections))
		count(descSocketTotal, float64(st.ConnectionsTotal))
		for k, n := range st.Events {
			count(descSocketEvents, float64(n), k[0], k[1])
		}
	}
	if s := c.src.SSH; s != nil {
		st := s.Stats()
		gauge(descSSHConns, float64(st.Connections))
		count(descSSHTotal, float64(st.ConnectionsTotal))
		for reason, n := range st.AuthFailures {
			count(descSSHAuthFail, float64(n), reason)
		}
	}
	if w := c.src.Workspaces; w != nil {
		for op, st := range w.Stats() {
			ch <- histogram(descOpDuration, st.Duration, op)
			count(descOpFailures, float64(st.Failures), op)
		}
	}
}

func histogram(d *prometheus.Desc, s counter.Snapshot, labels ...string) prometheus.Metric {
	buckets := make(map[float64]uint64, len(s.Bounds))
	for i, b := range s.Bounds {
		buckets[b.Seconds()] = s.Cumulative[i]
	}
	return prometheus.MustNewConstHistogram(d, s.Count, s.Sum.Seconds(), buckets, labels...)
}
