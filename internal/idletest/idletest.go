// Package idletest measures what a server keeps per idle client, for the
// idle-memory benchmarks of the front-ends: the clients run in a child
// process (the test binary again, running one test of its own), so that
// what the benchmark's process holds is the server's alone, and the live
// heap is put down to the code that allocated it.
package idletest

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
)

// ProfileEveryAllocation makes the heap profile exact (every allocation
// sampled) until the returned func restores the rate.
func ProfileEveryAllocation() (restore func()) {
	old := runtime.MemProfileRate
	runtime.MemProfileRate = 1
	return func() { runtime.MemProfileRate = old }
}

// StartClients runs this test binary again with only the test named test,
// env added to the environment, and waits until it prints ready on a line
// of its own: its clients are connected. stop closes the child's stdin,
// which it waits on, and waits for it to exit.
func StartClients(tb testing.TB, test string, env []string, ready string) (stop func()) {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.v")
	cmd.Env = append(os.Environ(), env...)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	stop = func() {
		stdin.Close()
		_ = cmd.Wait()
	}
	sc := bufio.NewScanner(stdout)
	var said strings.Builder
	for sc.Scan() {
		said.WriteString(sc.Text() + "\n")
		if sc.Text() == ready {
			go io.Copy(io.Discard, stdout)
			return stop
		}
	}
	stop()
	tb.Fatalf("the client process ended before its clients were ready:\n%s", said.String())
	return nil
}

// WaitForClients is what the child process calls once its clients are
// connected: it prints ready and returns when the benchmark is done with
// them (its stdin closes).
func WaitForClients(ready string) {
	os.Stdout.WriteString("\n" + ready + "\n")
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// LiveHeap sums the live bytes of the heap profile by owner. Each
// allocation's stack is walked from the innermost frame; the first
// function for which owner reports ok names the allocation's owner (an
// empty name: not counted); an allocation no frame claims is "other". The
// profile is as of the last completed collection: run two before.
func LiveHeap(owner func(function string) (name string, ok bool)) map[string]int64 {
	n, _ := runtime.MemProfile(nil, true)
	recs := make([]runtime.MemProfileRecord, n+100)
	n, _ = runtime.MemProfile(recs, true)
	out := map[string]int64{}
	for _, r := range recs[:n] {
		live := r.InUseBytes()
		if live == 0 {
			continue
		}
		name := "other"
		frames := runtime.CallersFrames(r.Stack())
		for {
			f, more := frames.Next()
			if o, ok := owner(f.Function); ok {
				name = o
				break
			}
			if !more {
				break
			}
		}
		if name != "" {
			out[name] += live
		}
	}
	return out
}

// WriteHeapProfile writes the heap profile to path, for
// `go tool pprof -sample_index=inuse_space`.
func WriteHeapProfile(tb testing.TB, path string) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		tb.Fatal(err)
	}
}
