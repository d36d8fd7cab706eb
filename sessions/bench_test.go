package sessions

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/codeterm/codeterm/sessions/vt"
	"github.com/codeterm/codeterm/store"
)

// terminalText returns n bytes of typical terminal output: lines of mixed
// length, words, numbers, paths, and SGR colour on some lines. Deterministic.
func terminalText(n int) []byte {
	r := rand.New(rand.NewPCG(42, 7))
	words := []string{"the", "build", "go", "test", "ok", "FAIL", "error:", "warning", "main.go:42:", "func", "return",
		"/usr/local/lib", "github.com/codeterm", "0x7ffd", "1234", "=>", "{", "}", "(err)", "nil", "compiling", "done."}
	colors := []string{"\x1b[32m", "\x1b[1;31m", "\x1b[33m", "\x1b[38;5;208m", "\x1b[1m", "\x1b[36m", "\x1b[38;2;10;200;30m"}
	b := make([]byte, 0, n+256)
	for len(b) < n {
		width := r.IntN(120)
		if r.IntN(10) == 0 {
			width = 0
		}
		colored := r.IntN(5) == 0
		col := 0
		for col < width {
			w := words[r.IntN(len(words))]
			if colored && r.IntN(3) == 0 {
				b = append(b, colors[r.IntN(len(colors))]...)
				b = append(b, w...)
				b = append(b, "\x1b[0m"...)
			} else {
				b = append(b, w...)
			}
			b = append(b, ' ')
			col += len(w) + 1
		}
		b = append(b, '\n')
	}
	return b[:n]
}

const throughputBytes = 64 << 20

func writeText(b *testing.B) string {
	path := filepath.Join(b.TempDir(), "text")
	if err := os.WriteFile(path, terminalText(throughputBytes), 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkThroughput compares the core with 1 and 10 clients against the
// same bytes read straight off a PTY, in the same run.
func BenchmarkThroughput(b *testing.B) {
	file := writeText(b)
	b.Run("raw", func(b *testing.B) {
		b.SetBytes(throughputBytes)
		buf := make([]byte, 32<<10)
		for b.Loop() {
			f, err := pty.Start(exec.Command("cat", file))
			if err != nil {
				b.Fatal(err)
			}
			for {
				if _, err := f.Read(buf); err != nil {
					break
				}
			}
			f.Close()
		}
	})
	for _, clients := range []int{1, 10} {
		b.Run(fmt.Sprintf("core-%d", clients), func(b *testing.B) {
			coreThroughput(b, file, clients, nil)
		})
	}
}

// coreThroughput is one core-N run of BenchmarkThroughput; beforeOp, if not
// nil, runs before each op outside the timer.
func coreThroughput(b *testing.B, file string, clients int, beforeOp func()) {
	m := NewManager(Config{MaxPerUser: -1, MaxPerWorkspace: -1}, nil, nil)
	defer m.Shutdown(context.Background())
	b.SetBytes(throughputBytes)
	var lags atomic.Int64
	for b.Loop() {
		if beforeOp != nil {
			b.StopTimer()
			beforeOp()
			b.StartTimer()
		}
		s, err := m.Create(context.Background(), SpawnOptions{UserID: "u", WorkspaceID: "w", Dir: b.TempDir(), Shell: "sh", Cols: 120, Rows: 40})
		if err != nil {
			b.Fatal(err)
		}
		var wg sync.WaitGroup
		var atts []*Attachment
		got := make([]int64, clients)
		for i := range clients {
			a, err := s.Attach(AttachOptions{LastSeq: 0})
			if err != nil {
				b.Fatal(err)
			}
			atts = append(atts, a)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					ch, err := a.Next(context.Background())
					if err != nil {
						if !errors.Is(err, io.EOF) {
							b.Error(err)
						}
						return
					}
					got[i] += int64(len(ch.Data))
				}
			}()
		}
		atts[0].Write([]byte("exec cat " + file + "\n"))
		wg.Wait()
		for i, a := range atts {
			lags.Add(int64(a.Lags()))
			if a.Lags() == 0 && got[i] != s.Info().Seq {
				b.Fatalf("client %d got %d bytes of %d", i, got[i], s.Info().Seq)
			}
			a.Close()
		}
	}
	b.ReportMetric(float64(lags.Load())/float64(b.N), "lags/op")
}

// BenchmarkThroughputMemory is core-10 throughput without a soft memory limit,
// with a tight one (limits.server_memory: the collector runs more often), and
// with the memory freed before every op given back to the system first (what
// the idle trimmer does once after a burst: the next burst faults its pages
// back in), in one run.
func BenchmarkThroughputMemory(b *testing.B) {
	file := writeText(b)
	b.Run("none", func(b *testing.B) { coreThroughput(b, file, 10, nil) })
	b.Run("limit-32MiB", func(b *testing.B) {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(32 << 20))
		coreThroughput(b, file, 10, nil)
	})
	b.Run("trimmed", func(b *testing.B) { coreThroughput(b, file, 10, debug.FreeOSMemory) })
}

// BenchmarkEcho measures one byte in and its echo out, through a raw PTY
// and through the core, with cat in raw mode as the echoing program.
func BenchmarkEcho(b *testing.B) {
	const warmup = 100
	report := func(b *testing.B, lat []time.Duration) {
		lat = lat[min(warmup, len(lat)/2):]
		slices.Sort(lat)
		if len(lat) == 0 {
			return
		}
		b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-µs")
	}
	b.Run("raw", func(b *testing.B) {
		f, err := pty.Start(exec.Command("sh", "-c", "stty raw -echo; printf '\\122EADY'; exec cat"))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		buf := make([]byte, 64)
		var seen []byte
		for !bytes.Contains(seen, []byte("READY")) {
			n, err := f.Read(buf)
			if err != nil {
				b.Fatal(err)
			}
			seen = append(seen, buf[:n]...)
		}
		lat := make([]time.Duration, 0, b.N+warmup)
		one := []byte{'x'}
		b.ResetTimer()
		for range b.N + warmup {
			t0 := time.Now()
			f.Write(one)
			if _, err := f.Read(buf); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
		b.StopTimer()
		report(b, lat)
	})
	// core types into a session, pausing before each keystroke; parked:
	// the pump has parked in the pause (Config.PumpIdle is shorter).
	core := func(b *testing.B, cfg Config, pause time.Duration, parked bool) {
		m := NewManager(cfg, nil, nil)
		defer m.Shutdown(context.Background())
		s, err := m.Create(context.Background(), SpawnOptions{UserID: "u", WorkspaceID: "w", Dir: b.TempDir(), Shell: "sh"})
		if err != nil {
			b.Fatal(err)
		}
		a, err := s.Attach(AttachOptions{LastSeq: 0})
		if err != nil {
			b.Fatal(err)
		}
		a.Write([]byte("stty raw -echo; printf '\\122EADY'; exec cat\n"))
		ctx := context.Background()
		var seen []byte
		for !bytes.Contains(seen, []byte("READY")) {
			ch, err := a.Next(ctx)
			if err != nil {
				b.Fatal(err)
			}
			seen = append(seen, ch.Data...)
		}
		lat := make([]time.Duration, 0, b.N+warmup)
		one := []byte{'x'}
		b.ResetTimer()
		for range b.N + warmup {
			if pause > 0 {
				b.StopTimer()
				time.Sleep(pause)
				for parked && !s.pumpParkedForTest() {
					time.Sleep(pause / 10)
				}
				b.StartTimer()
			}
			t0 := time.Now()
			a.Write(one)
			if _, err := a.Next(ctx); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
		b.StopTimer()
		report(b, lat)
	}
	b.Run("core", func(b *testing.B) { core(b, Config{}, 0, false) })
	// A keystroke after a pause longer than PumpIdle: the watch starts
	// the pump again. Beside it the same pauses with the pump kept.
	b.Run("core-pause", func(b *testing.B) { core(b, Config{PumpIdle: -1}, 2*time.Millisecond, false) })
	b.Run("core-pause-parked", func(b *testing.B) { core(b, Config{PumpIdle: time.Millisecond}, 2*time.Millisecond, true) })
}

// BenchmarkIdleSessionHeap reports the Go heap held per idle session with
// 200 sessions of 120x40 open, each having printed its prompt and been idle
// for PackAfter and PumpIdle (shortened here from the defaults).
func BenchmarkIdleSessionHeap(b *testing.B) {
	const n = 200
	for b.Loop() {
		m := NewManager(Config{MaxPerUser: -1, MaxPerWorkspace: -1, PackAfter: 50 * time.Millisecond, PumpIdle: 50 * time.Millisecond}, nil, nil)
		dir := b.TempDir()
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		goroutines := runtime.NumGoroutine()
		var list []*Session
		for range n {
			s, err := m.Create(context.Background(), SpawnOptions{UserID: "u", WorkspaceID: "w", Dir: dir, Shell: "sh", Cols: 120, Rows: 40})
			if err != nil {
				b.Fatal(err)
			}
			list = append(list, s)
		}
		// Idle means the prompt is out: attach, see it, detach.
		for _, s := range list {
			a, _ := s.Attach(AttachOptions{LastSeq: 0})
			for s.Info().Seq == 0 {
				if _, err := a.Next(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
			a.Close()
		}
		for _, s := range list {
			for !s.packedForTest() || !s.pumpParkedForTest() {
				time.Sleep(10 * time.Millisecond)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/n/1024, "heap-KiB/session")
		b.ReportMetric(float64(int64(after.StackInuse)-int64(before.StackInuse))/n/1024, "stack-KiB/session")
		b.ReportMetric(float64(runtime.NumGoroutine()-goroutines)/n, "goroutines/session")
		b.ReportMetric(float64(threads()), "threads")
		runtime.KeepAlive(list)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		m.Shutdown(ctx)
		cancel()
	}
}

// BenchmarkRepaint repaints a full, coloured 200x60 screen.
func BenchmarkRepaint(b *testing.B) {
	term := vt.New(200, 60, 1000)
	term.Write(bytes.ReplaceAll(terminalText(200*60*4), []byte("\n"), []byte("\r\n")))
	buf := make([]byte, 0, 256<<10)
	b.ReportAllocs()
	for b.Loop() {
		buf = term.AppendRepaint(buf[:0], 0)
	}
	b.ReportMetric(float64(len(buf)), "bytes/repaint")
}

// BenchmarkPump measures the core without a PTY: the same text through the
// query filter, the emulator, the ring and the queues of 0, 1 or 10 clients
// (the 0-client case is the emulator's and filter's cost alone).
func BenchmarkPump(b *testing.B) {
	text := bytes.ReplaceAll(terminalText(8<<20), []byte("\n"), []byte("\r\n"))
	type variant struct {
		clients int
		marks   bool // shell integration: the pump also looks for command marks
	}
	for _, v := range []variant{{0, false}, {0, true}, {1, false}, {1, true}, {10, false}} {
		name := fmt.Sprintf("clients-%d", v.clients)
		if v.marks {
			name += "-marks"
		}
		clients := v.clients
		b.Run(name, func(b *testing.B) {
			m := NewManager(Config{}, nil, nil)
			s := &Session{m: m, log: m.log, screen: screen{term: vt.New(120, 40, m.cfg.Scrollback)}, ring: newRing(m.cfg.RingBytes), cols: 120, rows: 40}
			if v.marks {
				s.marks = &markScanner{t: &commandTracker{s: s}}
			}
			var wg sync.WaitGroup
			ctx, cancel := context.WithCancel(context.Background())
			for range clients {
				a, err := s.Attach(AttachOptions{LastSeq: 0})
				if err != nil {
					b.Fatal(err)
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						if _, err := a.Next(ctx); err != nil {
							return
						}
					}
				}()
			}
			b.SetBytes(int64(len(text)))
			b.ReportAllocs()
			for b.Loop() {
				for p := text; len(p) > 0; {
					n := min(len(p), 4095) // what one PTY read returns
					out, qs := s.filter.feed(p[:n])
					s.publish(out, qs)
					p = p[n:]
				}
			}
			cancel()
			wg.Wait()
		})
	}
}

// threads returns the OS threads of this process.
func threads() int {
	b, _ := os.ReadFile("/proc/self/status")
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}

// BenchmarkMarkScan is the command-mark scanner alone over terminal text
// with SGR colour (many ESC, no marks) and with a command's marks every
// 4 KiB.
func BenchmarkMarkScan(b *testing.B) {
	text := bytes.ReplaceAll(terminalText(8<<20), []byte("\n"), []byte("\r\n"))
	marked := bytes.ReplaceAll(text, []byte("done.\r\n"), []byte("done.\r\n\x1b]133;D;0\a\x1b]633;P;Cwd=/w\a\x1b]133;A\a$ \x1b]133;B\a\x1b]633;E;make\a\x1b]133;C\a"))
	for name, p := range map[string][]byte{"plain": text, "marked": marked} {
		b.Run(name, func(b *testing.B) {
			m := NewManager(Config{}, nil, nil)
			s := &Session{m: m, log: m.log}
			sc := &markScanner{t: &commandTracker{s: s}}
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			for b.Loop() {
				for q, base := p, int64(0); len(q) > 0; {
					n := min(len(q), 4095)
					sc.scan(q[:n], base)
					q, base = q[n:], base+int64(n)
				}
			}
		})
	}
}

// BenchmarkCreate times a session from Create to its shell's first prompt,
// as the server makes them (a store, shell integration, history, git
// credential id), beside the same bash started on a bare PTY in the same
// run. Ending each session is left out of the time.
func BenchmarkCreate(b *testing.B) {
	if _, err := exec.LookPath("bash"); err != nil {
		b.Skip("no bash")
	}
	dir := b.TempDir()
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		b.Fatal(err)
	}
	prompt := []byte("\x1b[?2004h") // readline starts reading: the first prompt is out
	bare := func(b *testing.B, argv, env []string) {
		defer cpuPerOp(b)()
		for b.Loop() {
			cmd := exec.Command("/bin/bash", argv[1:]...)
			cmd.Args[0] = argv[0]
			cmd.Env = env
			cmd.Dir = home
			f, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 120, Rows: 40})
			if err != nil {
				b.Fatal(err)
			}
			var got []byte
			buf := make([]byte, 4096)
			for !bytes.Contains(got, prompt) {
				n, err := f.Read(buf)
				if err != nil {
					b.Fatal(err)
				}
				got = append(got, buf[:n]...)
			}
			b.StopTimer()
			cmd.Process.Kill()
			cmd.Wait()
			f.Close()
			b.StartTimer()
		}
	}
	// bash as node-pty's benchmark server starts it: no start-up files.
	b.Run("pty", func(b *testing.B) {
		bare(b, []string{"bash", "--noprofile", "--norc"}, []string{"HOME=" + home, "PATH=" + defaultPath, "TERM=xterm-256color", "PS1=$ "})
	})
	// The shell a session runs (a login shell with the integration), on a
	// bare PTY: what of a session's time is the shell's own.
	b.Run("shell", func(b *testing.B) {
		m := NewManager(Config{ShellIntegration: true}, nil, nil)
		defer m.Shutdown(context.Background())
		argv, env, _ := m.integrateShell("bash", []string{"-bash"}, Environ(SpawnOptions{Home: home, User: "alice"}, "/bin/bash"))
		bare(b, argv, env)
	})
	b.Run("session", func(b *testing.B) {
		ctx := context.Background()
		dir := b.TempDir()
		st, err := store.Open(ctx, filepath.Join(dir, "db.sqlite"))
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		u, err := st.CreateUser(ctx, "alice")
		if err != nil {
			b.Fatal(err)
		}
		ws := &store.Workspace{UserID: u.ID, Name: "w", LocalPath: home}
		if err := st.CreateWorkspace(ctx, ws); err != nil {
			b.Fatal(err)
		}
		m := NewManager(Config{
			ShellIntegration: true, HistoryDir: filepath.Join(dir, "history"), RecordDir: filepath.Join(dir, "rec"), RecordOnRequest: true,
			GitCredential: func(userID, sessionID string) string { return userID + "." + sessionID },
		}, st, nil)
		defer m.Shutdown(ctx)
		opts := SpawnOptions{UserID: u.ID, WorkspaceID: ws.ID, Dir: home, Shell: "bash", Home: home, User: "alice", Cols: 120, Rows: 40}
		defer cpuPerOp(b)()
		for b.Loop() {
			s, err := m.Create(ctx, opts)
			if err != nil {
				b.Fatal(err)
			}
			a, err := s.Attach(AttachOptions{LastSeq: 0, Cols: 120, Rows: 40})
			if err != nil {
				b.Fatal(err)
			}
			var got []byte
			for !bytes.Contains(got, prompt) {
				c, err := a.Next(ctx)
				if err != nil {
					b.Fatal(err)
				}
				got = append(got, c.Data...)
			}
			b.StopTimer()
			a.Write([]byte("exit\r"))
			for {
				if c, err := a.Next(ctx); err != nil || c.Kind == ChunkExit {
					break
				}
			}
			a.Close()
			<-s.Done()
			b.StartTimer()
		}
	})
}

// cpuPerOp reports the CPU time this process (server-µs/op) and its
// reaped children (shell-µs/op) spent per iteration, ends included: on a
// busy machine these vary far less than the wall time.
func cpuPerOp(b *testing.B) (report func()) {
	var self0, kids0 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self0)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids0)
	return func() {
		var self1, kids1 syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &self1)
		syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids1)
		us := func(a, z syscall.Rusage) float64 {
			return float64(z.Utime.Nano()+z.Stime.Nano()-a.Utime.Nano()-a.Stime.Nano()) / 1e3 / float64(b.N)
		}
		b.ReportMetric(us(self0, self1), "server-µs/op")
		b.ReportMetric(us(kids0, kids1), "shell-µs/op")
	}
}
