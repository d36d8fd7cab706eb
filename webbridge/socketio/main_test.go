package socketio

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
	before := runtime.NumGoroutine()
	code := m.Run()
	if code == 0 {
		if leak := leakedGoroutines(before); leak != "" {
			fmt.Fprintf(os.Stderr, "leaked goroutines:\n%s\n", leak)
			code = 1
		}
	}
	os.Exit(code)
}

func leakedGoroutines(before int) string {
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if runtime.NumGoroutine() <= before {
			return ""
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			stacks := string(buf[:runtime.Stack(buf, true)])
			var out []string
			for _, g := range strings.Split(stacks, "\n\n") {
				if !strings.Contains(g, "TestMain") && !strings.Contains(g, "testing.(*M)") {
					out = append(out, g)
				}
			}
			return strings.Join(out, "\n\n")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
