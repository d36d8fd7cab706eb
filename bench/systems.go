package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// env is what a run sets up once: a temporary directory, a client key, the
// data file, and the servers.
type env struct {
	dir      string
	home     string // HOME of the servers' shells: no rc files to slow them
	key      string // client private key
	textFile string
	fanFile  string // the smaller text the fan-out cats
	ptyBytes int64  // what a PTY delivers for textFile (each \n becomes \r\n)
	fanBytes int64  // the same for fanFile
	codeterm *codetermServer
	before   *codetermServer // built from -baseline, for an A/B in one run; nil without
	// bare is codeterm running node-pty's shell (sessions.command), for
	// sessions/s alone: the server's cost with the same shell on both sides.
	bare    *codetermServer
	openssh *opensshServer
	nodePTY *nodeServer // nil when it could not start; nodeErr says why
	// nodeLogin is node-pty starting login shells, for sessions/s alone;
	// nil when it could not start.
	nodeLogin *nodeServer
	wetty     *nodeServer // nil when it could not start; wettyErr says why
	nodeErr   error
	wettyErr  error
}

func setup(ctx context.Context, p plan) (*env, error) {
	e, err := newEnv()
	if err != nil {
		return nil, err
	}
	e.fanFile = filepath.Join(e.dir, "fantext")
	if err := writeText(e.textFile, p.catBytes); err != nil {
		return nil, err
	}
	if err := writeText(e.fanFile, p.fanBytes); err != nil {
		return nil, err
	}
	if e.ptyBytes, err = ptySize(e.textFile); err != nil {
		return nil, err
	}
	if e.fanBytes, err = ptySize(e.fanFile); err != nil {
		return nil, err
	}
	if e.codeterm, err = startCodeterm(ctx, e, "data"); err != nil {
		e.close()
		return nil, fmt.Errorf("codeterm: %w", err)
	}
	if e.bare, err = startCodetermFrom(ctx, e, "bare", ".", "codeterm", "CODETERM_SESSIONS_COMMAND="+bareShell); err != nil {
		e.close()
		return nil, fmt.Errorf("codeterm with %s: %w", bareShell, err)
	}
	if baseline != "" {
		if e.before, err = startCodetermFrom(ctx, e, "before", baseline, "codeterm-before"); err != nil {
			e.close()
			return nil, fmt.Errorf("codeterm from %s: %w", baseline, err)
		}
	}
	if e.openssh, err = startOpenSSH(ctx, e); err != nil {
		e.close()
		return nil, fmt.Errorf("openssh: %w", err)
	}
	if e.nodeErr = nodeReady(); e.nodeErr == nil {
		e.nodePTY, e.nodeErr = startNodePTY(e)
	}
	if e.nodeErr == nil {
		if e.nodeLogin, err = startNodePTY(e, "BENCH_LOGIN=1"); err != nil {
			log.Printf("not measured: node-pty with login shells: %v", err)
		}
	}
	if e.wettyErr = e.nodeErr; e.wettyErr == nil {
		e.wetty, e.wettyErr = startWetty(e)
	}
	for _, err := range []error{e.nodeErr, e.wettyErr} {
		if err != nil {
			log.Printf("not measured: %v", err)
		}
	}
	return e, nil
}

// newEnv makes the run's directory, HOME and client key.
func newEnv() (*env, error) {
	dir, err := os.MkdirTemp("", "codeterm-bench")
	if err != nil {
		return nil, err
	}
	// codeterm's data dir is in it, and users' OS accounts must pass
	// through to reach their workspaces (the server refuses otherwise).
	if err := os.Chmod(dir, 0o711); err != nil {
		return nil, err
	}
	e := &env{dir: dir, home: filepath.Join(dir, "home"), key: filepath.Join(dir, "id_ed25519"), textFile: filepath.Join(dir, "text")}
	if err := os.MkdirAll(filepath.Join(e.home, ".ssh"), 0o700); err != nil {
		return nil, err
	}
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", e.key).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("ssh-keygen: %v: %s", err, out)
	}
	pub, _ := os.ReadFile(e.key + ".pub")
	if err := os.WriteFile(filepath.Join(e.home, ".ssh", "authorized_keys"), pub, 0o600); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *env) close() {
	for _, c := range []*codetermServer{e.codeterm, e.before, e.bare} {
		if c != nil {
			c.stop()
		}
	}
	if e.openssh != nil {
		e.openssh.stop()
	}
	if e.nodeLogin != nil {
		e.nodeLogin.stop()
	}
	if e.nodePTY != nil {
		e.nodePTY.stop()
	}
	if e.wetty != nil {
		e.wetty.stop()
	}
	os.RemoveAll(e.dir)
}

// sshArgs are the OpenSSH client options every SSH system gets.
func (e *env) sshArgs(port string) []string {
	return []string{"-F", "none", "-i", e.key, "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-p", port}
}

type codetermServer struct {
	cmd        *exec.Cmd
	bin        string
	data       string
	sshPort    string
	httpURL    string
	user       string
	token      string            // a JWT for the Socket.IO clients
	workspaces map[string]string // name -> id
	logPath    string            // the server's log, kept after the run
}

// codetermWorkspaces: demo (SSH's primary sessions), sio (Socket.IO
// terminals), fan and att (fan-out and attach), and the scale test's.
var codetermWorkspaces = []string{"demo", "sio", "fan", "att", "s0", "s1", "s2", "s3", "s4", "s5"}

// maxPerWorkspace is what the benchmark's codeterm allows: the scale test
// spreads its sessions over s0..s5.
const maxPerWorkspace = 128

// startCodeterm builds codeterm (once) and serves a new data directory.
func startCodeterm(ctx context.Context, e *env, data string) (*codetermServer, error) {
	return startCodetermFrom(ctx, e, data, ".", "codeterm")
}

// bareShell is node-pty's and the raw PTY's shell, as sessions.command.
const bareShell = "/bin/bash,--noprofile,--norc"

// startCodetermFrom is startCodeterm for the source tree src, built as bin,
// with extra environment.
func startCodetermFrom(ctx context.Context, e *env, data, src, bin string, extra ...string) (*codetermServer, error) {
	c := &codetermServer{bin: filepath.Join(e.dir, bin), data: filepath.Join(e.dir, data)}
	if _, err := os.Stat(c.bin); err != nil {
		build := exec.CommandContext(ctx, "go", "build", "-o", c.bin, "./cmd/server")
		build.Dir = src
		if out, err := build.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("build: %v: %s", err, out)
		}
	}
	c.cmd = exec.Command(c.bin, "serve", "--data", c.data, "--ssh-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0")
	diesWithBench(c.cmd)
	// Raised limits: the scale test opens hundreds of sessions, and the echo
	// test sends a thousand terminal-input events a second.
	// The log outlives the run's directory: when a phase fails, it says
	// what the server saw (a socket's disconnect reason, a session's end).
	c.logPath = filepath.Join(os.TempDir(), "codeterm-bench-"+data+".log")
	logFile, err := os.Create(c.logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own descriptor
	c.cmd.Stderr = logFile
	c.cmd.Env = append(os.Environ(), "HOME="+e.home, "CODETERM_LOG_LEVEL=info",
		"CODETERM_SESSIONS_MAX_PER_USER=5000", fmt.Sprintf("CODETERM_SESSIONS_MAX_PER_WORKSPACE=%d", maxPerWorkspace),
		"CODETERM_HTTP_EVENTS_PER_SECOND=1000000", "CODETERM_SECURITY_ISOLATION=single")
	c.cmd.Env = append(c.cmd.Env, extra...)
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := c.cmd.Start(); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(stdout)
	deadline := time.AfterFunc(30*time.Second, func() { c.cmd.Process.Kill() })
	for sc.Scan() && (c.sshPort == "" || c.httpURL == "") {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 5 && f[0] == "ssh:" && f[2] == "-p":
			c.sshPort, c.user = f[3], strings.Split(f[4], "@")[0]
		case len(f) == 2 && f[0] == "web:":
			c.httpURL = f[1]
		}
	}
	deadline.Stop()
	go func() {
		for sc.Scan() {
		}
	}()
	if c.sshPort == "" {
		c.stop()
		return nil, fmt.Errorf("serve printed no ssh address")
	}
	for _, name := range codetermWorkspaces {
		out, err := exec.Command(c.bin, "workspace", "create", name, "--owner", c.user, "--data", c.data).CombinedOutput()
		if err != nil {
			c.stop()
			return nil, fmt.Errorf("workspace create: %v: %s", err, out)
		}
	}
	out, err := exec.Command(c.bin, "token", c.user, "--data", c.data).Output()
	if err != nil {
		c.stop()
		return nil, fmt.Errorf("token: %v", err)
	}
	c.token = strings.TrimSpace(string(out))
	if c.workspaces, err = c.workspaceIDs(); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

func (c *codetermServer) stop() {
	c.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
		<-done
	}
}

// workspaceIDs asks the REST API for the ids of the workspaces.
func (c *codetermServer) workspaceIDs() (map[string]string, error) {
	req, _ := http.NewRequest("GET", c.httpURL+"/api/workspaces", nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var list struct {
		Workspaces []struct{ ID, Name string }
	}
	if err := json.NewDecoder(res.Body).Decode(&list); err != nil {
		return nil, fmt.Errorf("GET /api/workspaces: %s: %w", res.Status, err)
	}
	ids := map[string]string{}
	for _, w := range list.Workspaces {
		ids[w.Name] = w.ID
	}
	for _, name := range codetermWorkspaces {
		if ids[name] == "" {
			return nil, fmt.Errorf("GET /api/workspaces: no %s", name)
		}
	}
	return ids, nil
}

// pid is the server process, for memory readings.
func (c *codetermServer) pid() int { return c.cmd.Process.Pid }

// cpu is the server's CPU time and its reaped shells'.
func (c *codetermServer) cpu() time.Duration { return processCPU(c.pid()) }

type opensshServer struct {
	cmd  *exec.Cmd
	port string
}

// startOpenSSH runs Debian's sshd on a loopback port with a temporary
// config whose sessions get the same shell as codeterm's: a login bash in
// the benchmark's empty home, not root's own rc files. SHLVL keeps the bash
// that runs ForceCommand from reading root's ~/.bashrc, as Debian's bash
// does when started by sshd.
func startOpenSSH(ctx context.Context, e *env) (*opensshServer, error) {
	return startSSHD(ctx, e, "openssh", fmt.Sprintf("SetEnv SHLVL=1\nForceCommand cd %[1]s && HOME=%[1]s exec -a -bash /bin/bash\n", e.home))
}

// startSSHD runs Debian's sshd with a config in e.dir/name, ending with extra.
func startSSHD(ctx context.Context, e *env, name, extra string) (*opensshServer, error) {
	sshd, err := exec.LookPath("sshd")
	if err != nil {
		if sshd, err = exec.LookPath("/usr/sbin/sshd"); err != nil {
			return nil, fmt.Errorf("sshd not found (apt-get install openssh-server)")
		}
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		return nil, err
	}
	dir := filepath.Join(e.dir, name)
	os.MkdirAll(dir, 0o700)
	hostKey := filepath.Join(dir, "host_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("host key: %v: %s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "sshd_config")
	conf := fmt.Sprintf(`Port %s
ListenAddress 127.0.0.1
HostKey %s
PidFile %s
AuthorizedKeysFile %s
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
PrintLastLog no
PermitUserEnvironment no
Subsystem sftp internal-sftp
%s`, port, hostKey, filepath.Join(dir, "sshd.pid"), filepath.Join(e.home, ".ssh", "authorized_keys"), extra)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	o := &opensshServer{cmd: exec.Command(sshd, "-D", "-e", "-f", cfg), port: port}
	diesWithBench(o.cmd)
	if err := o.cmd.Start(); err != nil {
		return nil, err
	}
	for i := 0; i < 100; i++ { // wait for the listener
		if c, err := net.Dial("tcp", "127.0.0.1:"+port); err == nil {
			c.Close()
			return o, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	o.stop()
	return nil, fmt.Errorf("sshd did not listen on %s", port)
}

func (o *opensshServer) stop() {
	o.cmd.Process.Kill()
	o.cmd.Wait()
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	return p, nil
}

// ptySize is what a PTY delivers for a file: its bytes, with each \n
// turned into \r\n.
func ptySize(path string) (int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return int64(len(data) + bytes.Count(data, []byte{'\n'})), nil
}
