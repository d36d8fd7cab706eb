package sessions

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/codeterm/codeterm/audit"
	"github.com/codeterm/codeterm/isolation"
	"github.com/codeterm/codeterm/store"
)

// Config tunes the manager. The zero value works: zero fields take the
// defaults documented on each.
type Config struct {
	RingBytes  int // replay ring per session; default 2 MiB, grown as output arrives
	Scrollback int // lines kept by the screen emulator; default 1000
	QueueBytes int // unsent bytes per attachment; a client this far behind the fastest gets a repaint; default 1 MiB
	// StallTimeout: a client that has taken nothing for this long stops
	// pacing the shell (it gets a repaint when it reads again); default
	// 10s, negative = never.
	StallTimeout    time.Duration
	MaxPerUser      int           // live sessions per user; default 32, negative = unlimited
	MaxPerWorkspace int           // live sessions per workspace; default 16, negative = unlimited
	MaxInputBytes   int           // largest single input write; default 64 KiB
	IdleTimeout     time.Duration // end sessions with no attachment and no output for this long; 0 = never
	KillGrace       time.Duration // SIGHUP to SIGKILL; default 3s
	RecordDir       string        // asciicast v2 file per session here; "" = no recording
	// RecordOnRequest records only the sessions switched on by
	// SetRecording, not every one; RecordInput adds input markers ("i"
	// events: they hold what was typed, passwords included).
	RecordOnRequest, RecordInput bool
	HistoryDir                   string // one shell history file per workspace here; "" = the shell's default
	// GitCredential, if set, gives each shell GitCredentialVar: the value
	// for the session's user and id (see spawn.go).
	GitCredential func(userID, sessionID string) string
	// ShellIntegration makes bash, zsh and fish report where each command
	// starts and ends (see marks.go and shellint.go).
	ShellIntegration bool
	// Command, if set, is run (argv[0] an absolute path) in place of the
	// login shell for a session that asks for no shell: tmux's
	// default-command. It gets no shell integration.
	Command []string
	// Runtime starts each session's program; nil: LocalRuntime.
	Runtime Runtime
	// PackAfter: a session whose shell has written nothing for this long
	// keeps its screen packed (see screen.go); default 10s, negative =
	// never.
	PackAfter time.Duration
	// PumpIdle: the reader of a session's terminal whose shell has
	// written nothing for this long gives up its goroutine until the
	// next output (see park.go); default 2s, negative = never.
	PumpIdle time.Duration
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.RingBytes, 2<<20)
	def(&c.Scrollback, 1000)
	def(&c.QueueBytes, 1<<20)
	def(&c.MaxPerUser, 32)
	def(&c.MaxPerWorkspace, 16)
	def(&c.MaxInputBytes, 64<<10)
	if c.KillGrace <= 0 {
		c.KillGrace = 3 * time.Second
	}
	if c.StallTimeout == 0 {
		c.StallTimeout = 10 * time.Second
	}
	if c.PackAfter == 0 {
		c.PackAfter = 10 * time.Second
	}
	if c.PumpIdle == 0 {
		c.PumpIdle = 2 * time.Second
	}
	return c
}

// SpawnOptions describe a new session.
type SpawnOptions struct {
	UserID      string   // owner; required
	WorkspaceID string   // required
	Dir         string   // working directory (the workspace checkout); default Home
	Shell       string   // "bash", "zsh", "fish", "sh" or a path to one; "" = default
	Name        string   // display name
	Cols, Rows  int      // initial size; 0 = 80x24
	Home, User  string   // HOME and USER/LOGNAME of the shell; default the server's
	Env         []string // client variables (LANG, LC_*, TERM, COLORTERM, GIT_PROTOCOL), filtered again (see Environ)
	// Account is the OS account the shell runs as; nil: the server's own.
	Account *isolation.Account
}

// Manager owns the live sessions. Its methods are safe for concurrent use.
type Manager struct {
	cfg   Config
	st    *store.Store // nil: metadata is not persisted
	log   *slog.Logger
	newID func() string

	mu       sync.Mutex
	sessions map[string]*Session
	reserved map[string]int // slots held by spawns in progress, by user and by workspace
	primary  map[string]*primaryCall
	closed   bool
	created  int64 // creation counter: orders sessions created in the same instant
	wg       sync.WaitGroup

	bufs sync.Pool // *[]byte read buffers, taken only while a PTY has data

	ready readyWatch // the shells' exits, the agent sockets' connections

	watchMu  sync.Mutex
	watchers map[*Changes]struct{}

	execs map[string]string // live exec scopes (see Exec): id → user id; under mu

	// handover is held for writing by Export until the exec or Resume;
	// creating a session and ending one hold it for reading (handover.go).
	handover  sync.RWMutex
	shareOnce sync.Once
	shares    *sharing   // share.go
	auditLog  *audit.Log // audit.go; nil: none

	feeds map[*CommandFeed]struct{} // under watchMu

	stats counters

	agentBase string       // see agentBase
	shell     defaultShell // see resolveShell

	shellintOnce sync.Once
	shellintPath string // the integration scripts' directory, once written
	shellintErr  error
}

type primaryCall struct {
	done chan struct{}
	s    *Session
	err  error
}

// NewManager returns a manager. st may be nil (no persistence, for tests and
// benchmarks); log may be nil.
func NewManager(cfg Config, st *store.Store, log *slog.Logger) *Manager {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Manager{
		cfg:      cfg.withDefaults(),
		st:       st,
		log:      log,
		newID:    store.NewID,
		sessions: map[string]*Session{},
		reserved: map[string]int{},
		primary:  map[string]*primaryCall{},
		stats:    newCounters(),

		agentBase: agentBase(),
	}
	m.bufs.New = func() any { b := make([]byte, readBufSize); return &b }
	return m
}

// readBufSize holds a burst of several PTY reads (see drainAfter). The
// buffers are pooled and taken only while a PTY has data, so idle sessions
// hold none.
const readBufSize = 64 << 10

// validSize reports whether a size is acceptable from a client.
func validSize(cols, rows int) bool {
	return cols >= 1 && cols <= maxDim && rows >= 1 && rows <= maxDim
}

// maxDim is the most columns or rows a client may ask for.
const maxDim = 1000

// ClampSize brings a size a client asked for into the range shared
// sessions accept, for terminals that are not refused but must stay
// bounded (a private exec's PTY): 0 (unknown) becomes 80x24.
func ClampSize(cols, rows int) (int, int) {
	clamp := func(n, unknown int) int {
		if n <= 0 {
			return unknown
		}
		return min(n, maxDim)
	}
	return clamp(cols, 80), clamp(rows, 24)
}

// Create starts a new session.
func (m *Manager) Create(ctx context.Context, opts SpawnOptions) (*Session, error) {
	if opts.UserID == "" || opts.WorkspaceID == "" {
		return nil, fmt.Errorf("create session: user and workspace are required: %w", ErrSpawn)
	}
	if opts.Cols == 0 && opts.Rows == 0 {
		opts.Cols, opts.Rows = 80, 24
	}
	if !validSize(opts.Cols, opts.Rows) {
		return nil, fmt.Errorf("create session %dx%d: %w", opts.Cols, opts.Rows, ErrInvalidSize)
	}
	prog, err := m.resolveProgram(opts.Shell)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSpawn, err)
	}
	m.handover.RLock()
	defer m.handover.RUnlock()
	if err := m.reserve(opts.UserID, opts.WorkspaceID); err != nil {
		return nil, err
	}
	s, err := m.spawn(ctx, opts, prog)
	if err != nil {
		m.mu.Lock()
		m.release(opts.UserID, opts.WorkspaceID)
		m.mu.Unlock()
		return nil, err
	}
	m.log.Info("session started", "session", s.id, "workspace", s.workspaceID, "user", s.userID, "shell", prog.path, "pid", s.pid)
	return s, nil
}

// reserve takes a slot against the limits before the (slow) spawn, so
// concurrent creates cannot overshoot.
func (m *Manager) reserve(userID, workspaceID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("create session: %w", ErrClosed)
	}
	perUser, perWS := m.reserved["u:"+userID], m.reserved["w:"+workspaceID]
	for _, s := range m.sessions {
		if s.userID == userID {
			perUser++
		}
		if s.workspaceID == workspaceID {
			perWS++
		}
	}
	if m.cfg.MaxPerUser > 0 && perUser >= m.cfg.MaxPerUser {
		return fmt.Errorf("%d sessions for this user: %w", perUser, ErrLimitExceeded)
	}
	if m.cfg.MaxPerWorkspace > 0 && perWS >= m.cfg.MaxPerWorkspace {
		return fmt.Errorf("%d sessions in this workspace: %w", perWS, ErrLimitExceeded)
	}
	m.reserved["u:"+userID]++
	m.reserved["w:"+workspaceID]++
	return nil
}

func (m *Manager) release(userID, workspaceID string) {
	for _, k := range []string{"u:" + userID, "w:" + workspaceID} {
		if m.reserved[k]--; m.reserved[k] <= 0 {
			delete(m.reserved, k)
		}
	}
}

// HistFile returns the shell history file of a workspace, or "" when
// Config.HistoryDir is unset.
func (m *Manager) HistFile(workspaceID string) string {
	if m.cfg.HistoryDir == "" {
		return ""
	}
	return filepath.Join(m.cfg.HistoryDir, "history-"+safeName(workspaceID))
}

// historyFile is where a shell keeps its history: HistFile, or for a shell
// that runs as an OS account of its own, a file in a directory of that
// account's under HistoryDir (which the server owns, so the account cannot
// redirect the directory elsewhere).
func (m *Manager) historyFile(opts SpawnOptions) (string, error) {
	if m.cfg.HistoryDir == "" {
		return "", nil
	}
	if err := os.MkdirAll(m.cfg.HistoryDir, 0o700); err != nil {
		return "", fmt.Errorf("history dir: %w", err)
	}
	if opts.Account == nil {
		return m.HistFile(opts.WorkspaceID), nil
	}
	if err := os.Chmod(m.cfg.HistoryDir, 0o711); err != nil {
		return "", fmt.Errorf("history dir: %w", err)
	}
	dir := filepath.Join(m.cfg.HistoryDir, safeName(opts.Account.Name))
	if err := opts.Account.MkdirPrivate(dir); err != nil {
		return "", fmt.Errorf("history dir: %w", err)
	}
	return filepath.Join(dir, "history-"+safeName(opts.WorkspaceID)), nil
}

// safeName keeps an id usable as a file name whatever it contains.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

// start starts spec through the configured runtime.
func (m *Manager) start(ctx context.Context, spec ProcessSpec) (*child, error) {
	rt := m.cfg.Runtime
	if rt == nil {
		rt = LocalRuntime{}
	}
	p, err := rt.Start(ctx, spec)
	if err != nil {
		return nil, err
	}
	raw, err := p.Master.SyscallConn()
	if err != nil {
		p.Cmd.Process.Kill()
		p.Cmd.Wait()
		p.Master.Close()
		return nil, fmt.Errorf("pty: %w", err)
	}
	return &child{cmd: p.Cmd, master: p.Master, raw: raw}, nil
}

// shellProgram is what a session runs.
type shellProgram struct {
	name, path string
	argv       []string // nil: the login shell, integrated
}

// resolveProgram resolves a requested shell, or with none the configured command
// or the default shell.
func (m *Manager) resolveProgram(requested string) (shellProgram, error) {
	if requested == "" && len(m.cfg.Command) > 0 {
		path := m.cfg.Command[0]
		if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			return shellProgram{}, fmt.Errorf("command %q is not an executable file", path)
		}
		return shellProgram{name: filepath.Base(path), path: path, argv: m.cfg.Command}, nil
	}
	name, path, err := m.resolveShell(requested)
	return shellProgram{name: name, path: path}, err
}

func (m *Manager) spawn(ctx context.Context, opts SpawnOptions, prog shellProgram) (*Session, error) {
	shellName, shellPath := prog.name, prog.path
	dir := opts.Dir
	if dir == "" {
		dir = opts.Home
	}
	if dir == "" && opts.Account != nil {
		dir = opts.Account.Home
	}
	if dir == "" {
		dir, _ = os.UserHomeDir()
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("%w: working directory %q: not a directory", ErrSpawn, dir)
	}
	env := Environ(opts, shellPath)
	hf, err := m.historyFile(opts)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSpawn, err)
	}
	if hf != "" {
		env = append(env, historyEnv(shellName, hf, opts.WorkspaceID)...)
	}
	id := m.newID()
	env = append(env, m.gitCredentialEnv(opts.UserID, id)...)
	agentPath := agentSocketPath(m.agentBase)
	env = append(env, "SSH_AUTH_SOCK="+agentPath)
	argv, marks := prog.argv, false
	if argv == nil {
		argv, env, marks = m.integrateShell(shellName, []string{"-" + shellName}, env)
	}
	c, err := m.start(ctx, ProcessSpec{Path: shellPath, Args: argv, Dir: dir, Env: env, Cols: opts.Cols, Rows: opts.Rows, Account: opts.Account})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSpawn, err)
	}
	s := newSession(m, id, opts, shellName, c)
	// The relay's socket is made while the shell starts, not before.
	if s.agent, err = listenAgent(agentPath, opts.Account, &m.ready); err != nil {
		m.log.Warn("session without agent socket", "session", id, "err", err)
	}
	if marks {
		s.marks = &markScanner{t: &commandTracker{s: s}}
	}
	if m.cfg.RecordDir != "" {
		rec, err := newRecorder(m.cfg.RecordDir, s.id, shellPath, opts.Cols, opts.Rows, !m.cfg.RecordOnRequest, m.log)
		if err != nil {
			m.log.Warn("session not recorded", "session", s.id, "err", err)
		} else {
			s.rec = rec
		}
	}
	if err := m.persist(ctx, s); err != nil {
		s.abort()
		return nil, fmt.Errorf("%w: %w", ErrSpawn, err)
	}
	// Registered before its goroutines start, so even a shell that exits at
	// once is found and removed by ended.
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		s.abort()
		return nil, fmt.Errorf("create session: %w", ErrClosed)
	}
	m.release(opts.UserID, opts.WorkspaceID) // the session itself counts from now on
	m.addLocked(s)
	m.mu.Unlock()
	s.start()
	m.changed(s)
	return s, nil
}

// addLocked registers s as the newest session; Shutdown waits for it.
func (m *Manager) addLocked(s *Session) {
	m.created++
	s.order = m.created
	m.sessions[s.id] = s
	m.wg.Add(1)
}

// persist writes a session's metadata to the store.
func (m *Manager) persist(ctx context.Context, s *Session) error {
	if m.st == nil {
		return nil
	}
	i := s.Info()
	return m.st.PutSession(ctx, &store.Session{
		ID: i.ID, WorkspaceID: i.WorkspaceID, UserID: i.UserID, Name: i.Name, Shell: i.Shell,
		PID: i.PID, Cols: i.Cols, Rows: i.Rows, CreatedAt: i.CreatedAt, LastActivity: i.LastActivity,
		Status: i.Status, ExitCode: i.ExitCode, Signal: i.Signal,
	})
}

// ended is called once by a session after it has exited and delivered
// everything.
func (m *Manager) ended(s *Session) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	if err := m.persist(ctx, s); err != nil {
		m.log.Warn("session exit not saved", "session", s.id, "err", err)
	}
	cancel()
	m.mu.Lock()
	if m.sessions[s.id] == s {
		delete(m.sessions, s.id)
		m.wg.Done()
	}
	m.mu.Unlock()
}

// Get returns a live session of the user. Another user's session is
// reported exactly like a missing one.
func (m *Manager) Get(userID, id string) (*Session, error) {
	m.mu.Lock()
	s := m.sessions[id]
	m.mu.Unlock()
	if s == nil || s.userID != userID {
		return nil, fmt.Errorf("session %q: %w", id, ErrNotFound)
	}
	return s, nil
}

// Lookup finds one of the user's live sessions in a workspace ("" = any) by
// exact id, then exact name, then unique id prefix.
func (m *Manager) Lookup(userID, workspaceID, idOrPrefix string) (*Session, error) {
	if idOrPrefix == "" {
		return nil, fmt.Errorf("session \"\": %w", ErrNotFound)
	}
	list := m.List(userID, workspaceID)
	for _, s := range list {
		if s.id == idOrPrefix {
			return s, nil
		}
	}
	var named, prefixed []*Session
	for _, s := range list {
		if s.Name() == idOrPrefix {
			named = append(named, s)
		}
		if strings.HasPrefix(s.id, idOrPrefix) {
			prefixed = append(prefixed, s)
		}
	}
	for _, cands := range [][]*Session{named, prefixed} {
		switch len(cands) {
		case 0:
			continue
		case 1:
			return cands[0], nil
		default:
			return nil, fmt.Errorf("session %q matches %d sessions: %w", idOrPrefix, len(cands), ErrAmbiguous)
		}
	}
	return nil, fmt.Errorf("session %q: %w", idOrPrefix, ErrNotFound)
}

// List returns the user's live sessions in a workspace ("" = all of the
// user's), oldest first.
func (m *Manager) List(userID, workspaceID string) []*Session {
	m.mu.Lock()
	var out []*Session
	for _, s := range m.sessions {
		if s.userID == userID && (workspaceID == "" || s.workspaceID == workspaceID) {
			out = append(out, s)
		}
	}
	m.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].order < out[j].order })
	return out
}

// Primary returns the workspace's oldest running session of opts.UserID,
// creating one with opts if there is none. Concurrent callers for the same
// workspace get the same session.
func (m *Manager) Primary(ctx context.Context, opts SpawnOptions) (*Session, error) {
	key := opts.UserID + "\x00" + opts.WorkspaceID
	for {
		m.mu.Lock()
		var oldest *Session
		for _, s := range m.sessions {
			if s.userID == opts.UserID && s.workspaceID == opts.WorkspaceID && !s.exiting.Load() &&
				(oldest == nil || s.order < oldest.order) {
				oldest = s
			}
		}
		if oldest != nil {
			m.mu.Unlock()
			return oldest, nil
		}
		if c := m.primary[key]; c != nil {
			m.mu.Unlock()
			select {
			case <-c.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if c.err != nil {
				return nil, c.err
			}
			continue // it may have exited already; look again
		}
		c := &primaryCall{done: make(chan struct{})}
		m.primary[key] = c
		m.mu.Unlock()
		c.s, c.err = m.Create(ctx, opts)
		m.mu.Lock()
		delete(m.primary, key)
		m.mu.Unlock()
		close(c.done)
		return c.s, c.err
	}
}

// Kill ends one of the user's sessions: SIGHUP to its processes, SIGKILL
// after Config.KillGrace. It returns at once; wait on Session.Done.
func (m *Manager) Kill(userID, id string) error {
	s, err := m.Get(userID, id)
	if err != nil {
		return err
	}
	s.Kill()
	return nil
}

// RunningWorkspaces lists the ids of the workspaces that have sessions.
func (m *Manager) RunningWorkspaces() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := map[string]bool{}
	var ids []string
	for _, s := range m.sessions {
		if !seen[s.workspaceID] {
			seen[s.workspaceID] = true
			ids = append(ids, s.workspaceID)
		}
	}
	return ids
}

// KillWorkspace kills every session of a workspace (when it is deleted).
func (m *Manager) KillWorkspace(workspaceID string) {
	m.mu.Lock()
	var list []*Session
	for _, s := range m.sessions {
		if s.workspaceID == workspaceID {
			list = append(list, s)
		}
	}
	m.mu.Unlock()
	for _, s := range list {
		s.Kill()
	}
}

// Shutdown refuses new sessions, kills every session and waits until all
// have exited and been recorded, or ctx ends.
func (m *Manager) Shutdown(ctx context.Context) error {
	m.mu.Lock()
	m.closed = true
	list := make([]*Session, 0, len(m.sessions))
	for _, s := range m.sessions {
		list = append(list, s)
	}
	m.mu.Unlock()
	for _, s := range list {
		// The server is going away: no client holds a shell's last output.
		s.unpace()
		s.Kill()
	}
	done := make(chan struct{})
	go func() { m.wg.Wait(); m.removeShellint(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		m.mu.Lock()
		n := len(m.sessions)
		m.mu.Unlock()
		return fmt.Errorf("shutdown: %d sessions still running: %w", n, ctx.Err())
	}
}
