package sshd

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// BenchmarkThroughput cats 32 MiB of terminal text and reads it with an
// x/crypto client as fast as it can: through the shared session (attach),
// and through a private PTY (exec), which isolates the cost of the core.
func BenchmarkThroughput(b *testing.B) {
	h := newHarness(b)
	var text bytes.Buffer
	for text.Len() < 32<<20 {
		fmt.Fprintf(&text, "\x1b[32m%08d\x1b[0m the quick brown fox jumps over the lazy dog %d\n", text.Len(), text.Len()%97)
	}
	file := filepath.Join(b.TempDir(), "text")
	os.WriteFile(file, text.Bytes(), 0o644)
	c := h.client(h.keyAlice, "alice")
	b.Run("attach", func(b *testing.B) { defer reportCPU(b)(); benchAttach(b, c, file, text.Len()) })
	b.Run("exec", func(b *testing.B) { defer reportCPU(b)(); benchExec(b, c, file, text.Len()) })
}

// reportCPU reports the CPU time this process (server and client) and the
// programs it waited for spent per operation: on a shared machine it moves
// much less than the wall time.
func reportCPU(b *testing.B) func() {
	cpu := func() time.Duration {
		var self, kids syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &self)
		syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
		var d time.Duration
		for _, r := range []syscall.Rusage{self, kids} {
			d += time.Duration(r.Utime.Nano() + r.Stime.Nano())
		}
		return d
	}
	start := cpu()
	return func() {
		b.ReportMetric(float64((cpu()-start).Milliseconds())/float64(b.N), "cpu-ms/op")
	}
}

func benchExec(b *testing.B, c *gossh.Client, file string, size int) {
	b.SetBytes(int64(size))
	for i := 0; i < b.N; i++ {
		s, err := c.NewSession()
		if err != nil {
			b.Fatal(err)
		}
		if err := s.RequestPty("xterm-256color", 40, 120, gossh.TerminalModes{}); err != nil {
			b.Fatal(err)
		}
		out, _ := s.StdoutPipe()
		if err := s.Start("demo cat " + file + "; echo END-$((6*7))"); err != nil {
			b.Fatal(err)
		}
		if err := readUntil(out, []byte("END-42"), time.Minute); err != nil {
			b.Fatal(err)
		}
		s.Wait()
	}
}

func benchAttach(b *testing.B, c *gossh.Client, file string, size int) {
	b.SetBytes(int64(size))
	for i := 0; i < b.N; i++ {
		s, err := c.NewSession()
		if err != nil {
			b.Fatal(err)
		}
		if err := s.RequestPty("xterm-256color", 40, 120, gossh.TerminalModes{}); err != nil {
			b.Fatal(err)
		}
		in, _ := s.StdinPipe()
		out, _ := s.StdoutPipe()
		if err := s.Start("demo"); err != nil {
			b.Fatal(err)
		}
		io.WriteString(in, "cat "+file+"; echo END-$((6*7))\r")
		if err := readUntil(out, []byte("END-42"), time.Minute); err != nil {
			b.Fatal(err)
		}
		io.WriteString(in, "exit\r")
		s.Wait()
	}
}

func readUntil(r io.Reader, marker []byte, d time.Duration) error {
	deadline := time.Now().Add(d)
	buf := make([]byte, 256<<10)
	var tail []byte
	for time.Now().Before(deadline) {
		n, err := r.Read(buf)
		window := append(tail, buf[:n]...)
		if bytes.Contains(window, marker) {
			return nil
		}
		if len(window) > len(marker) {
			window = window[len(window)-len(marker):]
		}
		tail = append(tail[:0], window...)
		if err != nil {
			return err
		}
	}
	return fmt.Errorf("no %q within %v", marker, d)
}

// BenchmarkEcho measures a keystroke's round trip through an x/crypto
// client: one byte in, its echo out, with cat in raw mode echoing. attach
// goes through the shared session; exec through a private PTY, the
// baseline.
func BenchmarkEcho(b *testing.B) {
	h := newHarness(b)
	c := h.client(h.keyAlice, "alice")
	const prog = "stty raw -echo; printf '\\122EADY'; exec cat"
	b.Run("attach", func(b *testing.B) {
		benchEcho(b, c, "demo", func(in io.Writer) { io.WriteString(in, prog+"\r") })
		// The shared session now runs cat and outlives this client: end it,
		// or the next run (Go repeats a benchmark with a larger b.N) would
		// attach to cat instead of a shell.
		for _, s := range h.sessions.List(h.alice.ID, h.demo.ID) {
			s.Kill()
			<-s.Done()
		}
	})
	b.Run("exec", func(b *testing.B) { benchEcho(b, c, "demo "+prog, func(io.Writer) {}) })
}

func benchEcho(b *testing.B, c *gossh.Client, command string, start func(io.Writer)) {
	const warmup = 100
	s, err := c.NewSession()
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.RequestPty("xterm-256color", 40, 120, gossh.TerminalModes{}); err != nil {
		b.Fatal(err)
	}
	in, _ := s.StdinPipe()
	out, _ := s.StdoutPipe()
	if err := s.Start(command); err != nil {
		b.Fatal(err)
	}
	start(in)
	if err := readUntil(out, []byte("READY"), time.Minute); err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N+warmup)
	one, buf := []byte{'x'}, make([]byte, 256)
	b.ResetTimer()
	for range b.N + warmup {
		t0 := time.Now()
		if _, err := in.Write(one); err != nil {
			b.Fatal(err)
		}
		if _, err := out.Read(buf); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	lat = lat[min(warmup, len(lat)/2):]
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-µs")
}

// BenchmarkCiphers moves 64 MiB from an exec'd command to OpenSSH's client
// with each cipher (and MAC) codeterm offers, so that the list can be chosen
// on measured figures. server-cpu-ms/op is the server's own CPU time (the
// client and the command are other processes): on a busy machine it says
// more than MB/s. Compare ratios within one run.
func BenchmarkCiphers(b *testing.B) {
	h := newHarness(b)
	const size = 64 << 20
	for _, c := range []struct{ cipher, mac string }{
		{"aes128-gcm@openssh.com", ""},
		{"aes256-gcm@openssh.com", ""},
		{"aes128-ctr", "hmac-sha2-256-etm@openssh.com"},
		{"aes128-ctr", "hmac-sha2-256"},
		{"aes256-ctr", "hmac-sha2-512"},
		{"chacha20-poly1305@openssh.com", ""},
	} {
		name := c.cipher
		if c.mac != "" {
			name += "+" + c.mac
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(size)
			args := []string{"-p", h.port, "-c", c.cipher}
			if c.mac != "" {
				args = append(args, "-m", c.mac)
			}
			var before, after syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &before)
			defer func() {
				syscall.Getrusage(syscall.RUSAGE_SELF, &after)
				cpu := after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano()
				b.ReportMetric(float64(cpu)/1e6/float64(b.N), "server-cpu-ms/op")
			}()
			for i := 0; i < b.N; i++ {
				cmd := exec.Command("ssh", append(h.sshArgs(h.keyAlice, args...), "alice+demo@127.0.0.1", fmt.Sprintf("head -c %d /dev/zero", size))...)
				out, _ := cmd.StdoutPipe()
				if err := cmd.Start(); err != nil {
					b.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, out)
				if err := cmd.Wait(); err != nil || n != size {
					b.Fatalf("%v: %d bytes", err, n)
				}
			}
		})
	}
}
