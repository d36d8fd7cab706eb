package sshd

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
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
	b.Run("attach", func(b *testing.B) { benchAttach(b, c, file, text.Len()) })
	b.Run("exec", func(b *testing.B) { benchExec(b, c, file, text.Len()) })
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
