// Package leakcheck fails a test binary that leaves goroutines behind.
package leakcheck

import (
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Main runs the tests, then fails the run if goroutines other than the
// testing framework's are still alive 5 s later. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leak := leaked(); leak != "" {
			fmt.Fprintf(os.Stderr, "leaked goroutines:\n%s\n", leak)
			code = 1
		}
	}
	os.Exit(code)
}

// leaked returns the stacks of goroutines still running. The framework's
// own, such as the fuzz coordinator's signal handler, do not count.
func leaked() string {
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	deadline := time.Now().Add(5 * time.Second)
	for {
		buf := make([]byte, 1<<20)
		var out []string
		for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
			switch {
			case strings.Contains(g, "leakcheck.leaked"), strings.Contains(g, "leakcheck.Main"),
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
