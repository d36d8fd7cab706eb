package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// nodeDir holds server.mjs, client.mjs and their node_modules (npm ci).
var nodeDir = filepath.Join("bench", "node")

// nodeReady says why the Node systems cannot run, or nil.
func nodeReady() error {
	if _, err := exec.LookPath("node"); err != nil {
		return fmt.Errorf("node is not installed")
	}
	for _, m := range []string{"socket.io", "socket.io-client", "node-pty/build/Release/pty.node"} {
		if _, err := os.Stat(filepath.Join(nodeDir, "node_modules", m)); err != nil {
			return fmt.Errorf("bench/node is not installed (cd bench/node && npm ci && npm rebuild node-pty --foreground-scripts): %v", err)
		}
	}
	return nil
}

// nodeServer is a Node process serving terminals on a loopback port:
// server.mjs (node-pty + socket.io) or wetty.
type nodeServer struct {
	cmd  *exec.Cmd
	port string
	url  string
	path string // socket.io path
	done <-chan struct{}
}

func (n *nodeServer) pid() int { return n.cmd.Process.Pid }

func (n *nodeServer) stop() {
	n.cmd.Process.Signal(os.Interrupt)
	select {
	case <-n.done:
	case <-time.After(5 * time.Second):
		n.cmd.Process.Kill()
		<-n.done
	}
}

// shellEnv is the environment of every benchmarked shell that the benchmark
// starts itself.
func shellEnv(home string) []string {
	return []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "TERM=xterm-256color", "SHELL=/bin/bash", "LANG=C.UTF-8", "PS1=$ "}
}

// diesWithBench has the kernel kill a server the benchmark starts when the
// benchmark's process goes, however it goes: a run killed outright (or
// through "go run", which does not pass the signal on) left its Node
// servers running for hours. Pdeathsig follows the thread that started
// the child, and the Go runtime only ends a thread locked by a goroutine
// that exits, which the benchmark never does.
func diesWithBench(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// startNodePTY runs server.mjs, which prints "listening PORT".
func startNodePTY(e *env, env ...string) (*nodeServer, error) {
	cmd := exec.Command("node", "server.mjs")
	diesWithBench(cmd)
	cmd.Dir = nodeDir
	cmd.Env = append(shellEnv(e.home), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	n := &nodeServer{cmd: cmd, path: "/socket.io", done: waitDone(cmd)}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	select {
	case l := <-lines:
		if p, ok := strings.CutPrefix(l, "listening "); ok {
			n.port = p
			n.url = "http://127.0.0.1:" + p
			return n, nil
		}
		n.stop()
		return nil, fmt.Errorf("server.mjs said %q", l)
	case <-n.done:
		return nil, fmt.Errorf("server.mjs exited")
	case <-time.After(30 * time.Second):
		n.stop()
		return nil, fmt.Errorf("server.mjs did not start")
	}
}

// startWetty runs wetty. Running as root with its ssh host on localhost,
// wetty spawns its command on a local PTY for each socket, no ssh involved;
// as any other user it would ssh to localhost, which this benchmark does not
// set up.
func startWetty(e *env) (*nodeServer, error) {
	if os.Getuid() != 0 {
		return nil, fmt.Errorf("wetty runs a local shell only as root (otherwise it logs in over ssh)")
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("node", filepath.Join("node_modules", "wetty", "build", "main.js"),
		"--host", "127.0.0.1", "--port", port, "--base", "/wetty", "--ssh-host", "localhost",
		"--command", "/bin/bash --noprofile --norc")
	diesWithBench(cmd)
	cmd.Dir = nodeDir
	cmd.Env = shellEnv(e.home)
	if err := cmd.Start(); err != nil { // its request log goes nowhere
		return nil, err
	}
	n := &nodeServer{cmd: cmd, port: port, url: "http://127.0.0.1:" + port, path: "/wetty/socket.io", done: waitDone(cmd)}
	for i := 0; i < 300; i++ { // wait for the listener
		if c, err := net.Dial("tcp", "127.0.0.1:"+port); err == nil {
			c.Close()
			return n, nil
		}
		select {
		case <-n.done:
			return nil, fmt.Errorf("wetty exited")
		case <-time.After(50 * time.Millisecond):
		}
	}
	n.stop()
	return nil, fmt.Errorf("wetty did not listen on %s", port)
}

// nodeClient runs client.mjs against a server.
type nodeClient struct {
	url, path, token, workspace, proto string
}

func (c nodeClient) command(args ...string) *exec.Cmd {
	cmd := exec.Command("node", append([]string{"client.mjs"}, args...)...)
	cmd.WaitDelay = time.Second
	cmd.Dir = nodeDir
	cmd.Env = append(os.Environ(), "BENCH_URL="+c.url, "BENCH_PATH="+c.path, "BENCH_TOKEN="+c.token,
		"BENCH_WORKSPACE="+c.workspace, "BENCH_PROTO="+c.proto)
	return cmd
}

func (c nodeClient) term() (*term, error) { return startCmd(c.command("term")) }

// exits runs n `echo R; exit` sessions and returns how many lost the R.
func (c nodeClient) exits(n int) (int, error) {
	out, err := bounded(c.command("exits", strconv.Itoa(n)), 5*time.Minute)
	if err != nil {
		return 0, fmt.Errorf("client.mjs exits: %v: %s", err, out)
	}
	var lost int
	if _, err := fmt.Sscanf(lastLine(out), "lost %d", &lost); err != nil {
		return 0, fmt.Errorf("client.mjs exits: %q", out)
	}
	return lost, nil
}

// setup times n connections from the dial to the shell's first prompt.
func (c nodeClient) setup(n int) ([]time.Duration, error) {
	out, err := bounded(c.command("setup", strconv.Itoa(n)), 5*time.Minute)
	if err != nil {
		return nil, fmt.Errorf("client.mjs setup: %v: %s", err, out)
	}
	f := strings.Fields(lastLine(out))
	if len(f) != n+1 || f[0] != "setup" {
		return nil, fmt.Errorf("client.mjs setup: %q", out)
	}
	var d []time.Duration
	for _, s := range f[1:] {
		us, err := strconv.Atoi(s)
		if err != nil {
			return nil, err
		}
		d = append(d, time.Duration(us)*time.Microsecond)
	}
	return d, nil
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

// bounded runs cmd for its output, killing it after limit.
func bounded(cmd *exec.Cmd, limit time.Duration) ([]byte, error) {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	t := time.AfterFunc(limit, func() { cmd.Process.Kill() })
	defer t.Stop()
	err := cmd.Wait()
	return out.Bytes(), err
}
