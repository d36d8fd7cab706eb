package engineio

import (
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain fails the run if tests leave goroutines behind.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leak := leakedGoroutines(); leak != "" {
			fmt.Fprintf(os.Stderr, "leaked goroutines:\n%s\n", leak)
			code = 1
		}
	}
	os.Exit(code)
}

// leakedGoroutines waits up to 5 s for the tests' goroutines to end and
// returns the stacks of those still running. The testing framework's own,
// such as the fuzz coordinator's signal handler, do not count.
func leakedGoroutines() string {
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	deadline := time.Now().Add(5 * time.Second)
	for {
		buf := make([]byte, 1<<20)
		var out []string
		for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
			switch {
			case strings.Contains(g, "leakedGoroutines"), strings.Contains(g, "TestMain"),
				strings.Contains(g, "testing.(*M)"), strings.Contains(g, "os/signal."):
			default:
				out = append(out, g)
			}
		}
		if len(out) == 0 || time.Now().After(deadline) {
			return strings.Join(out, "\n\n")
		}
		time.Sleep(10 * time.Millisecond) // goroutines wind down after their connections close
	}
}
