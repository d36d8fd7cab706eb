package engineio

import (
	"testing"

	"github.com/codeterm/codeterm/webbridge/socketio/internal/leakcheck"
)

// TestMain fails the run if tests leave goroutines behind.
func TestMain(m *testing.M) { leakcheck.Main(m) }
