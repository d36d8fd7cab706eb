package workspaces

import (
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Progress steps, in the order a clone goes through them.
const (
	StepCloning     = "cloning"
	StepConfiguring = "configuring"
	StepCompleted   = "completed"
)

// Progress is one workspace-progress update. Percent is overall (0-100) and
// never goes down within one Create; the last update of a successful Create
// is always {StepCompleted, 100}.
type Progress struct {
	Step    string `json:"step"`
	Percent int    `json:"progress"`
	Message string `json:"message"`
}

// ProgressFunc receives progress updates. Calls are serialised and made at
// most about ten times a second, from the goroutine doing the git work
// (which, with the git binary, is not Create's), so it must not block for
// long: git waits for it.
type ProgressFunc func(Progress)

// phases maps git's progress titles to their slice of the overall bar. A
// clone spends most of its time receiving, so receiving gets the widest
// slice. go-git only relays the server's phases (enumerating, counting,
// compressing); receiving, resolving and the checkout ("Updating files",
// shown by git only when it takes more than a moment) are what the git
// binary prints for itself (see cloneGit), so the same parser serves both.
var phases = map[string]struct{ from, to int }{
	"enumerating objects": {0, 0},
	"counting objects":    {0, 10},
	"compressing objects": {10, 25},
	"receiving objects":   {25, 80},
	"unpacking objects":   {25, 80},
	"resolving deltas":    {80, 90},
	"updating files":      {90, 94},
	"checking out files":  {90, 94},
}

const (
	configuringPercent = 95
	progressInterval   = 100 * time.Millisecond
)

// progressLine matches "Counting objects:  45% (9/20)" and its final form
// "Counting objects: 100% (20/20), done.", with or without "remote: ".
var progressLine = regexp.MustCompile(`^(?:remote:\s*)?([A-Za-z][A-Za-z ]*?):\s+(\d{1,3})%\s+\((\d+)/(\d+)\)`)

// progressTracker turns git's sideband progress stream into monotonic,
// throttled Progress calls. It is the io.Writer handed to go-git, and the
// reader of the git binary's stderr.
type progressTracker struct {
	fn  ProgressFunc
	now func() time.Time

	mu       sync.Mutex
	partial  []byte
	percent  int
	step     string
	lastEmit time.Time
	done     bool
}

func newProgressTracker(fn ProgressFunc) *progressTracker {
	return &progressTracker{fn: fn, now: time.Now}
}

// Write receives raw sideband data. git redraws a progress line with '\r'
// and ends a phase with '\n'; chunks may split lines anywhere.
func (t *progressTracker) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.partial = append(t.partial, p...)
	for {
		i := strings.IndexAny(string(t.partial), "\r\n")
		if i < 0 {
			break
		}
		line := strings.TrimSpace(string(t.partial[:i]))
		t.partial = t.partial[i+1:]
		if line != "" {
			t.line(line)
		}
	}
	if len(t.partial) > 4096 { // not progress output; don't grow forever
		t.partial = t.partial[:0]
	}
	return len(p), nil
}

func (t *progressTracker) line(line string) {
	m := progressLine.FindStringSubmatch(line)
	if m == nil {
		return
	}
	ph, ok := phases[strings.ToLower(m[1])]
	if !ok {
		return
	}
	pct, _ := strconv.Atoi(m[2])
	pct = min(pct, 100)
	overall := ph.from + (ph.to-ph.from)*pct/100
	// A phase's final line ("..., done.") passes the throttle: there are at
	// most four of them and they mark real milestones.
	final := strings.HasSuffix(line, "done.")
	msg := strings.TrimPrefix(strings.TrimPrefix(line, "remote:"), " ")
	if i := strings.Index(msg, ")"); i >= 0 {
		msg = msg[:i+1] // drop ", 1.20 MiB | 3 MiB/s, done."
	}
	t.emitLocked(StepCloning, overall, msg, final)
}

// report records a step outside git's own output (start, configuring,
// completed). Step changes are never throttled.
func (t *progressTracker) report(step string, percent int, msg string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.emitLocked(step, percent, msg, true)
}

func (t *progressTracker) emitLocked(step string, percent int, msg string, force bool) {
	if t.fn == nil || t.done {
		return
	}
	if percent < t.percent {
		percent = t.percent
	}
	if step == StepCompleted {
		percent, t.done = 100, true
	}
	now := t.now()
	changed := step != t.step || percent != t.percent
	if !force && (!changed || now.Sub(t.lastEmit) < progressInterval) {
		return
	}
	t.step, t.percent, t.lastEmit = step, percent, now
	t.fn(Progress{Step: step, Percent: percent, Message: msg})
}
