package webbridge

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/codeterm/codeterm/webbridge/socketio"
)

// system-stats: answered with a system-stats event and the ack.
func (c *client) systemStats(m *socketio.Message, r *reply) {
	c.goWork(func() {
		st := c.srv.systemStats(c.user.ID)
		c.emit("system-stats", st)
		r.ok(st)
	})
}

func (s *Server) systemStats(userID string) map[string]any {
	total, avail := memInfo()
	used := total - avail
	pct := 0.0
	if total > 0 {
		pct = math.Round(float64(used)/float64(total)*1000) / 10
	}
	active := 0
	if s.Sessions != nil {
		// Only the user's own: other users' sessions are not theirs to count.
		active = len(s.Sessions.List(userID, ""))
	}
	return map[string]any{
		"memory": map[string]any{
			"used": humanBytes(used), "total": humanBytes(total), "percentage": pct,
			"usedBytes": used, "totalBytes": total,
		},
		"cpu":               map[string]any{"usage": s.stats.usage()},
		"activeConnections": s.io.ConnCount(),
		"activeSessions":    active,
		"uptime":            int64(time.Since(s.started).Seconds()),
	}
}

// memInfo reads total and available memory from /proc/meminfo, in bytes.
func memInfo() (total, avail uint64) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) < 2 {
			continue
		}
		n, _ := strconv.ParseUint(string(f[1]), 10, 64)
		switch string(f[0]) {
		case "MemTotal:":
			total = n << 10
		case "MemAvailable:":
			avail = n << 10
		}
	}
	return total, avail
}

func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, suffix := float64(n), "B"
	for _, u := range []string{"KB", "MB", "GB", "TB"} {
		if v < unit {
			break
		}
		v /= unit
		suffix = u
	}
	if v >= 100 {
		return fmt.Sprintf("%.0f %s", v, suffix)
	}
	return fmt.Sprintf("%.1f %s", v, suffix)
}

// cpuSampler reports CPU usage over the time since the previous call (at
// least cpuWindow, sampling again after a pause when called too soon).
type cpuSampler struct {
	mu          sync.Mutex
	idle, total uint64
	at          time.Time
}

const cpuWindow = 200 * time.Millisecond

func (c *cpuSampler) usage() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.at.IsZero() || time.Since(c.at) < cpuWindow {
		if !c.at.IsZero() {
			time.Sleep(cpuWindow - time.Since(c.at))
		} else {
			c.idle, c.total = cpuTimes()
			c.at = time.Now()
			time.Sleep(cpuWindow)
		}
	}
	idle, total := cpuTimes()
	dIdle, dTotal := float64(idle-c.idle), float64(total-c.total)
	c.idle, c.total, c.at = idle, total, time.Now()
	if dTotal <= 0 {
		return 0
	}
	return math.Round((1-dIdle/dTotal)*1000) / 10
}

// cpuTimes reads the aggregate idle and total jiffies from /proc/stat.
func cpuTimes() (idle, total uint64) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0, 0
	}
	fields := bytes.Fields(sc.Bytes())
	if len(fields) < 5 || string(fields[0]) != "cpu" {
		return 0, 0
	}
	for i, v := range fields[1:] {
		n, _ := strconv.ParseUint(string(v), 10, 64)
		total += n
		if i == 3 || i == 4 { // idle, iowait
			idle += n
		}
	}
	return idle, total
}

// healthTTL is how long a health-status is reused: probing GitHub and the
// disk for every socket and every tick would be load for nothing.
const healthTTL = 30 * time.Second

// healthCache holds the last health-status.
type healthCache struct {
	mu  sync.Mutex
	at  time.Time
	val map[string]any
}

// healthStatus is the health-status payload, probed at most every
// healthTTL; it reveals no users, sessions or paths.
func (s *Server) healthStatus() map[string]any {
	h := &s.healthState
	h.mu.Lock() // concurrent askers wait for one probe
	defer h.mu.Unlock()
	if h.val != nil && time.Since(h.at) < healthTTL {
		return h.val
	}
	ctx, cancel := context.WithTimeout(s.ctx, 3*time.Second)
	defer cancel()
	db, fs := "operational", "operational"
	if _, err := s.Store.SchemaVersion(ctx); err != nil {
		db = "unavailable"
	}
	if s.Workspaces != nil && !writable(s.Workspaces.Root()) {
		fs = "unavailable"
	}
	gh := s.githubStatus(ctx)
	status := "healthy"
	switch down := btoi(db != "operational") + btoi(fs != "operational"); {
	case down == 2:
		status = "unhealthy"
	case down == 1 || gh == "unavailable":
		status = "degraded"
	}
	h.val = map[string]any{
		"status": status,
		"services": map[string]string{
			"database":    db,
			"github_api":  gh,
			"file_system": fs,
		},
		"timestamp": timestamp(time.Now()),
	}
	h.at = time.Now()
	return h.val
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// writable reports whether a file can be created in dir (a full or
// read-only disk is not).
func writable(dir string) bool {
	f, err := os.CreateTemp(dir, ".health-*")
	if err != nil {
		return false
	}
	name := f.Name()
	_, werr := f.Write([]byte("ok"))
	cerr := f.Close()
	os.Remove(name)
	return werr == nil && cerr == nil
}

// githubStatus probes GitHub's API when the integration is configured:
// GET /rate_limit, which costs no rate limit. Any answer but a server
// error means it is reachable.
func (s *Server) githubStatus(ctx context.Context) string {
	if s.GitHub == nil || s.GitHub.Repos == nil || s.GitHub.Repos.Client == nil {
		return "not_configured"
	}
	c := s.GitHub.Repos.Client
	req, err := c.NewRequest(http.MethodGet, "rate_limit", nil)
	if err != nil {
		return "unavailable"
	}
	res, err := c.BareDo(ctx, req)
	if res != nil {
		res.Body.Close()
		if res.StatusCode < 500 {
			return "operational"
		}
	}
	if err != nil {
		s.Log.Debug("github health probe", "err", err)
	}
	return "unavailable"
}

// broadcastHealth sends health-status to every connected socket; they are
// all authenticated.
func (s *Server) broadcastHealth() {
	if err := s.io.Of("/").Emit("health-status", s.healthStatus()); err != nil {
		s.Log.Debug("health-status", "err", err)
	}
}
