// Package upgrade replaces the running server's program with the one at its
// path without ending the process: on SIGHUP it checks the new program,
// freezes the state that must survive (the listening sockets and whatever
// parts were registered, such as the sessions' terminals), and execve's it
// with that state in a memfd and the descriptors left open. The PID stays
// the same, so child processes stay children.
package upgrade

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Version is the format of the hand-over envelope; each part carries its own.
const Version = 1

// envFD names the variable that gives the next image its state's memfd.
const envFD = "CODETERM_HANDOVER_FD"

// CheckFlag is the flag (with "=SPEC") appended to Args to ask the next
// program whether it would start with this configuration and accept the
// state's formats; the program must exit 0 only if so (see Check).
const CheckFlag = "--check-upgrade"

// State is one part's frozen state.
type State struct {
	Data  []byte
	Files []*os.File // left open across the exec; closed by the Upgrader otherwise
	PIDs  []int      // child processes the part's next image waits for
	// Resume, if set, undoes the freeze when the exec fails.
	Resume func()
}

// Upgrader performs in-place upgrades. Register parts and listeners while
// starting, then call Ready, then Run.
type Upgrader struct {
	log  *slog.Logger
	path string   // the program, as found at start
	args []string // its arguments, as given at start

	// CheckTimeout bounds the new program's check; default 30s.
	CheckTimeout time.Duration
	// Environ is the environment the check and the next image start with;
	// nil: the process's at that time. The server clears secret settings
	// from its own environment once read, so it passes the one it was
	// started with: the next image reads its configuration the same way.
	Environ []string

	mu        sync.Mutex
	in        *envelope        // what the previous image handed over; nil on a fresh start
	inFiles   map[int]*os.File // its descriptors not yet claimed
	strays    []int            // children of the previous image nobody claims
	listeners []*listener
	parts     []part
	notify    []func()
	paused    chan struct{} // non-nil while accepting is paused
	sigs      chan os.Signal
}

type part struct {
	name    string
	version int
	export  func() (*State, error)
}

// New returns an Upgrader for this program (os.Args, the executable's path
// now). If the process was started by an upgrade, it reads the state the
// previous image left: that must happen before this image starts any child
// process, so that the children of the previous image are told apart.
func New(log *slog.Logger) (*Upgrader, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	path, err := os.Executable()
	if err != nil {
		path = os.Args[0] // an upgrade then fails at its check, with the reason
	}
	u := &Upgrader{log: log, path: path, args: os.Args, CheckTimeout: 30 * time.Second}
	v, ok := os.LookupEnv(envFD)
	if !ok {
		return u, nil
	}
	os.Unsetenv(envFD)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return u, fmt.Errorf("upgrade: %s=%q", envFD, v)
	}
	env, files, err := readState(fd)
	if err != nil {
		return u, err
	}
	u.in, u.inFiles = env, files
	u.strays = strayChildren(env)
	return u, nil
}

func (u *Upgrader) environ() []string {
	if u.Environ != nil {
		return u.Environ
	}
	return os.Environ()
}

// Upgraded reports whether this image was started by an upgrade.
func (u *Upgrader) Upgraded() bool { return u.in != nil }

// Handle registers a part of the state: export freezes it when an upgrade
// starts, version is its format, which the next program must accept.
func (u *Upgrader) Handle(name string, version int, export func() (*State, error)) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.parts = append(u.parts, part{name: name, version: version, export: export})
}

// BeforeExec registers f to run once everything is frozen, just before the
// exec: front-ends tell their clients to come back.
func (u *Upgrader) BeforeExec(f func()) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.notify = append(u.notify, f)
}

// Take returns the state of part name that the previous image handed over,
// if any. The files are the caller's from now on. A part in another format
// is an error (the check before the exec should have prevented it).
func (u *Upgrader) Take(name string, version int) (data []byte, files []*os.File, ok bool, err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.in == nil {
		return nil, nil, false, nil
	}
	p, found := u.in.Parts[name]
	if !found {
		return nil, nil, false, nil
	}
	delete(u.in.Parts, name)
	for _, fd := range p.FDs {
		if f := u.inFiles[fd]; f != nil {
			files = append(files, f)
			delete(u.inFiles, fd)
		}
	}
	if len(files) != len(p.FDs) {
		err = fmt.Errorf("upgrade: part %s: %d of its %d descriptors missing", name, len(p.FDs)-len(files), len(p.FDs))
	}
	if p.Version != version {
		for _, f := range files {
			f.Close()
		}
		return nil, nil, false, fmt.Errorf("upgrade: part %s in format %d, want %d", name, p.Version, version)
	}
	return p.Data, files, true, err
}

// Ready closes what the previous image handed over and nobody took, and
// reaps its other children as they exit (commands that ran outside the
// handed-over parts): call it once every part and listener is set up.
func (u *Upgrader) Ready() {
	u.mu.Lock()
	defer u.mu.Unlock()
	for fd, f := range u.inFiles {
		f.Close()
		delete(u.inFiles, fd)
	}
	for _, pid := range u.strays {
		go reap(u.log, pid)
	}
	u.strays = nil
}

// Run upgrades on every SIGHUP until ctx ends. A failed upgrade is logged
// and the server keeps running as it is.
func (u *Upgrader) Run(ctx context.Context) error {
	u.mu.Lock()
	u.sigs = make(chan os.Signal, 1)
	signal.Notify(u.sigs, syscall.SIGHUP)
	u.mu.Unlock()
	defer signal.Stop(u.sigs)
	if u.in != nil {
		u.log.Info("upgrade: now serving as the new program", "pid", os.Getpid())
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-u.sigs:
			start := time.Now()
			u.log.Info("upgrade: SIGHUP received; checking the program", "path", u.path)
			// Upgrade returns only when the exec did not happen.
			err := u.Upgrade(ctx)
			u.log.Error("upgrade failed; still running as before", "err", err, "after", time.Since(start).Round(time.Millisecond))
		}
	}
}

// Upgrade checks the program at the path, freezes the state and execs it.
// It returns only if the upgrade did not happen, with the reason; the state
// is then unfrozen.
func (u *Upgrader) Upgrade(ctx context.Context) error {
	start := time.Now()
	if err := u.check(ctx); err != nil {
		return err
	}
	checked := time.Now()
	u.mu.Lock()
	parts := append([]part(nil), u.parts...)
	listeners := append([]*listener(nil), u.listeners...)
	notify := append([]func(){}, u.notify...)
	u.mu.Unlock()

	u.pause()
	var states []*State
	var files []*os.File
	undo := func() {
		for _, f := range files {
			f.Close()
		}
		for i := len(states) - 1; i >= 0; i-- {
			if states[i].Resume != nil {
				states[i].Resume()
			}
		}
		u.resume()
	}
	env := &envelope{Format: Version, Parts: map[string]partState{}}
	for _, l := range listeners {
		f, err := l.file()
		if err != nil {
			undo()
			return fmt.Errorf("upgrade: listener %s: %w", l.name, err)
		}
		files = append(files, f)
		env.Listeners = append(env.Listeners, listenerState{Name: l.name, Addr: l.addr, FD: fdOf(f)})
	}
	for _, p := range parts {
		st, err := p.export()
		if err != nil {
			undo()
			return fmt.Errorf("upgrade: %s: %w", p.name, err)
		}
		states = append(states, st)
		ps := partState{Version: p.version, Data: st.Data, PIDs: st.PIDs}
		for _, f := range st.Files {
			ps.FDs = append(ps.FDs, fdOf(f))
		}
		files = append(files, st.Files...)
		env.Parts[p.name] = ps
	}
	memfd, err := writeState(env)
	if err != nil {
		undo()
		return err
	}
	files = append(files, memfd)
	for _, f := range notify {
		f()
	}
	// No fork may happen from here to the exec: a child started now would
	// inherit every terminal and the state (with per-user accounts, a
	// process of another user).
	syscall.ForkLock.Lock()
	for _, f := range files {
		if err := keepOnExec(f); err != nil {
			syscall.ForkLock.Unlock()
			undo()
			return fmt.Errorf("upgrade: %w", err)
		}
	}
	environ := append(withoutVar(u.environ(), envFD), envFD+"="+strconv.Itoa(fdOf(memfd)))
	// A SIGHUP between the exec and the next image's Run would kill the
	// process with every shell: an ignored signal stays ignored across
	// execve until the next image asks for it again.
	signal.Ignore(syscall.SIGHUP)
	u.log.Info("upgrade: switching to the new program", "path", u.path, "parts", len(parts), "descriptors", len(files),
		"check", checked.Sub(start).Round(time.Millisecond), "freeze", time.Since(checked).Round(time.Millisecond))
	err = syscall.Exec(u.path, u.args, environ)
	syscall.ForkLock.Unlock()
	u.mu.Lock()
	if u.sigs != nil {
		signal.Notify(u.sigs, syscall.SIGHUP)
	}
	u.mu.Unlock()
	undo()
	return fmt.Errorf("upgrade: exec %s: %w", u.path, err)
}

// check runs the program at the path in check mode: it must load the
// configuration the way this server would and accept every format.
func (u *Upgrader) check(ctx context.Context) error {
	spec := u.spec()
	ctx, cancel := context.WithTimeout(ctx, u.CheckTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, u.path, append(append([]string(nil), u.args[1:]...), CheckFlag+"="+spec)...)
	cmd.Env = withoutVar(u.environ(), envFD)
	out, err := cmd.CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if len(msg) > 2000 {
			msg = msg[len(msg)-2000:]
		}
		return fmt.Errorf("upgrade: %s refused to take over (%v): %s", u.path, err, msg)
	}
	return nil
}

// spec lists every format this image would hand over: "handover=1,sessions=1".
func (u *Upgrader) spec() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	items := []string{"handover=" + strconv.Itoa(Version)}
	for _, p := range u.parts {
		items = append(items, p.name+"="+strconv.Itoa(p.version))
	}
	return strings.Join(items, ",")
}

// Check answers a CheckFlag: nil if every format in spec is one this
// program reads (versions: its parts' formats).
func Check(spec string, versions map[string]int) error {
	known := map[string]int{"handover": Version}
	for k, v := range versions {
		known[k] = v
	}
	var errs []error
	for item := range strings.SplitSeq(spec, ",") {
		name, v, ok := strings.Cut(item, "=")
		n, err := strconv.Atoi(v)
		if !ok || err != nil {
			errs = append(errs, fmt.Errorf("bad format spec %q", item))
			continue
		}
		want, found := known[name]
		switch {
		case !found:
			errs = append(errs, fmt.Errorf("unknown state part %q", name))
		case want != n:
			errs = append(errs, fmt.Errorf("%s state in format %d; this program reads format %d", name, n, want))
		}
	}
	return errors.Join(errs...)
}

func withoutVar(environ []string, name string) []string {
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	sort.Strings(out)
	return out
}
