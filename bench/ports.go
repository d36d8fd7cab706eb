package main

// The ports phase (go run ./bench -ports): a workspace's HTTP server through
// its preview beside the same server hit directly, and the WebSocket TCP
// tunnel beside `ssh -L` over codeterm and over OpenSSH, in one run with the
// systems alternating round by round.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

const (
	portsRounds    = 3
	portsClients   = 32
	portsDuration  = 3 * time.Second
	tunnelBytes    = 64 << 20
	tunnelChunk    = 64 << 10
	portsWorkspace = "demo"
)

// servePorts is the workspace's side: an HTTP server with a small page and
// a TCP echo server, both on loopback, their ports printed.
func servePorts() error {
	web, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Printf("PORTS http=%d echo=%d\n", web.Addr().(*net.TCPAddr).Port, echo.Addr().(*net.TCPAddr).Port)
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	page := bytes.Repeat([]byte("<p>hello from the workspace</p>\n"), 32) // ~1 KiB
	return http.Serve(web, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write(page)
	}))
}

// serveBareProxy is the bare proxy's process: httputil to target.
func serveBareProxy(target string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Printf("PROXY %s\n", ln.Addr())
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: target})
	rp.Transport = &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}
	return http.Serve(ln, rp)
}

func startBareProxy(ctx context.Context, self, target string) (string, error) {
	cmd := exec.CommandContext(ctx, self, "-serve-proxy", target)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		return "", err
	}
	go func() { <-ctx.Done(); cmd.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "PROXY ")
	if err != nil || !ok {
		cmd.Process.Kill()
		return "", fmt.Errorf("bare proxy: %q %v", line, err)
	}
	return "http://" + addr + "/", nil
}

var portsLine = regexp.MustCompile(`PORTS http=(\d+) echo=(\d+)`)

func portsMain(ctx context.Context, out string) error {
	ctx, cancel := context.WithCancel(ctx) // ends the helper processes
	defer cancel()
	dir, err := os.MkdirTemp("", "codeterm-bench-ports")
	if err != nil {
		return err
	}
	e := &env{dir: dir, home: filepath.Join(dir, "home"), key: filepath.Join(dir, "id_ed25519")}
	defer e.close()
	if err := os.MkdirAll(filepath.Join(e.home, ".ssh"), 0o700); err != nil {
		return err
	}
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", e.key).CombinedOutput(); err != nil {
		return fmt.Errorf("ssh-keygen: %v: %s", err, out)
	}
	pub, _ := os.ReadFile(e.key + ".pub")
	if err := os.WriteFile(filepath.Join(e.home, ".ssh", "authorized_keys"), pub, 0o600); err != nil {
		return err
	}
	if e.codeterm, err = startCodeterm(ctx, e, "ports"); err != nil {
		return fmt.Errorf("codeterm: %w", err)
	}
	if e.openssh, err = startOpenSSH(ctx, e); err != nil {
		return fmt.Errorf("openssh: %w", err)
	}
	c := e.codeterm
	self, err := os.Executable()
	if err != nil {
		return err
	}

	// The servers run in the workspace's primary session, as a developer's
	// would: typed into it over SSH.
	sess := exec.CommandContext(ctx, "ssh", append(e.sshArgs(c.sshPort), "-tt", c.user+"@127.0.0.1", portsWorkspace)...)
	stdin, _ := sess.StdinPipe()
	stdout, _ := sess.StdoutPipe()
	if err := sess.Start(); err != nil {
		return err
	}
	defer func() { sess.Process.Kill(); sess.Wait() }()
	fmt.Fprintf(stdin, "exec %s -serve-ports\n", self)
	found := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := portsLine.FindStringSubmatch(sc.Text()); m != nil {
				found <- m
				break
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	var httpPort, echoPort string
	select {
	case m := <-found:
		httpPort, echoPort = m[1], m[2]
	case <-time.After(30 * time.Second):
		return fmt.Errorf("the workspace's servers did not start")
	}
	base, _ := url.Parse(c.httpURL)
	wsID := c.workspaces[portsWorkspace]

	// Preview: ask for it until the port is discovered, then trade the
	// ticket for the cookie as a browser does.
	tr := &http.Transport{MaxIdleConnsPerHost: 2 * portsClients, DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
		if strings.Contains(addr, ".localhost:") { // *.localhost is loopback, as browsers resolve it
			addr = base.Host
		}
		return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	}}
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	start := time.Now()
	var ticket string
	for ticket == "" {
		body := fmt.Sprintf(`{"workspaceId":%q,"port":%s}`, wsID, httpPort)
		req, _ := http.NewRequest("POST", c.httpURL+"/api/previews", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+c.token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		var r struct{ URL string }
		json.NewDecoder(res.Body).Decode(&r)
		res.Body.Close()
		ticket = r.URL
		if time.Since(start) > 30*time.Second {
			return fmt.Errorf("port %s never discovered: %s", httpPort, res.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
	log.Printf("port %s discovered within %v", httpPort, time.Since(start).Round(100*time.Millisecond))
	res, err := client.Get(ticket)
	if err != nil {
		return err
	}
	res.Body.Close()
	cookie := res.Header.Get("Set-Cookie")
	if res.StatusCode != http.StatusSeeOther || cookie == "" {
		return fmt.Errorf("ticket exchange: %s", res.Status)
	}
	cookie, _, _ = strings.Cut(cookie, ";")
	tu, _ := url.Parse(ticket)
	previewURL := tu.Scheme + "://" + tu.Host + "/"
	directURL := "http://127.0.0.1:" + httpPort + "/"
	// What any Go reverse proxy costs here: httputil's, bare, in a process
	// of its own as codeterm is.
	bare, err := startBareProxy(ctx, self, "127.0.0.1:"+httpPort)
	if err != nil {
		return err
	}

	// ssh -L over codeterm and over OpenSSH, to the echo server.
	forward := func(sshPort string) (string, func(), error) {
		lport, err := freePort()
		if err != nil {
			return "", nil, err
		}
		args := append(e.sshArgs(sshPort), "-N", "-o", "ExitOnForwardFailure=yes", "-L", lport+":127.0.0.1:"+echoPort, c.user+"@127.0.0.1")
		cmd := exec.CommandContext(ctx, "ssh", args...)
		if err := cmd.Start(); err != nil {
			return "", nil, err
		}
		stop := func() { cmd.Process.Kill(); cmd.Wait() }
		for i := 0; i < 200; i++ {
			if conn, err := net.Dial("tcp", "127.0.0.1:"+lport); err == nil {
				conn.Close()
				return "127.0.0.1:" + lport, stop, nil
			}
			time.Sleep(50 * time.Millisecond)
		}
		stop()
		return "", nil, fmt.Errorf("ssh -L on %s never listened", lport)
	}
	ctAddr, stopCT, err := forward(c.sshPort)
	if err != nil {
		return err
	}
	defer stopCT()
	osAddr, stopOS, err := forward(e.openssh.port)
	if err != nil {
		return err
	}
	defer stopOS()
	tunnelURL := "ws" + strings.TrimPrefix(c.httpURL, "http") + "/tunnel/" + wsID + "/" + echoPort

	data := make([]byte, tunnelBytes)
	rand.Read(data)
	rps := map[string][]float64{}
	p99 := map[string][]float64{}
	mibs := map[string][]float64{}
	for round := 1; round <= portsRounds; round++ {
		for _, m := range []struct{ name, url, cookie string }{{"direct", directURL, ""}, {"bare Go proxy", bare, ""}, {"preview", previewURL, cookie}} {
			r, p, err := loadHTTP(client, m.url, m.cookie)
			if err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
			rps[m.name] = append(rps[m.name], r)
			p99[m.name] = append(p99[m.name], p)
		}
		for _, t := range []struct {
			name string
			dial func() (io.ReadWriteCloser, error)
		}{
			{"TCP direct (floor)", func() (io.ReadWriteCloser, error) { return net.Dial("tcp", "127.0.0.1:"+echoPort) }},
			{"codeterm WebSocket tunnel", func() (io.ReadWriteCloser, error) { return dialTunnel(tunnelURL, c.token) }},
			{"ssh -L over codeterm", func() (io.ReadWriteCloser, error) { return net.Dial("tcp", ctAddr) }},
			{"ssh -L over OpenSSH", func() (io.ReadWriteCloser, error) { return net.Dial("tcp", osAddr) }},
		} {
			v, err := echoThroughput(t.dial, data)
			if err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
			mibs[t.name] = append(mibs[t.name], v)
		}
		log.Printf("round %d/%d done", round, portsRounds)
	}

	var b strings.Builder
	fmt.Fprintf(&b, "# codeterm ports benchmark\n\n- date: %s\n- machine: %d cores, %s, kernel %s, %s\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), runtime.NumCPU(), cpuModel(), kernel(), runtime.Version())
	fmt.Fprintf(&b, "- %d rounds, systems alternating; medians. The machine is shared with other jobs: compare ratios, not absolute figures.\n", portsRounds)
	fmt.Fprintf(&b, "- HTTP: %d parallel keep-alive clients for %v per system and round, GET of a ~1 KiB page from a Go server in the workspace's session\n", portsClients, portsDuration)
	fmt.Fprintf(&b, "- tunnel: %d MiB sent to a TCP echo server in the workspace and read back (MiB/s of payload one way)\n\n", tunnelBytes>>20)
	b.WriteString("\"bare Go proxy\" is net/http/httputil.ReverseProxy with nothing else, run as a process of its own (the floor of any Go proxy on this machine).\n\n")
	b.WriteString("## HTTP through the preview\n\n| system | req/s | vs direct | vs bare Go proxy | p99 ms | vs direct |\n|---|---:|---:|---:|---:|---:|\n")
	for _, n := range []string{"direct", "bare Go proxy", "preview"} {
		fmt.Fprintf(&b, "| %s | %.0f | %.2fx | %.2fx | %.2f | %.2fx |\n", n, median(rps[n]), median(rps[n])/median(rps["direct"]),
			median(rps[n])/median(rps["bare Go proxy"]), median(p99[n]), median(p99[n])/median(p99["direct"]))
	}
	b.WriteString("\n## TCP tunnel, MiB/s\n\n| system | MiB/s | vs ssh -L over codeterm |\n|---|---:|---:|\n")
	for _, n := range []string{"TCP direct (floor)", "codeterm WebSocket tunnel", "ssh -L over codeterm", "ssh -L over OpenSSH"} {
		fmt.Fprintf(&b, "| %s | %.1f | %.2fx |\n", n, median(mibs[n]), median(mibs[n])/median(mibs["ssh -L over codeterm"]))
	}
	fmt.Print(b.String())
	if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
		return err
	}
	log.Printf("wrote %s", out)
	return nil
}

// loadHTTP runs portsClients clients against u for portsDuration and
// returns requests per second and the p99 latency in ms.
func loadHTTP(client *http.Client, u, cookie string) (float64, float64, error) {
	var mu sync.Mutex
	var lat []time.Duration
	var firstErr error
	deadline := time.Now().Add(portsDuration)
	var wg sync.WaitGroup
	for range portsClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for time.Now().Before(deadline) {
				req, _ := http.NewRequest("GET", u, nil)
				if cookie != "" {
					req.Header.Set("Cookie", cookie)
				}
				t0 := time.Now()
				res, err := client.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if err == nil && res.StatusCode != 200 {
						err = fmt.Errorf("GET %s: %s", u, res.Status)
					}
				}
				if err != nil {
					mu.Lock()
					firstErr = cmpErr(firstErr, err)
					mu.Unlock()
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return 0, 0, firstErr
	}
	slices.Sort(lat)
	p := lat[len(lat)*99/100]
	return float64(len(lat)) / portsDuration.Seconds(), ms(p), nil
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// wsConn is a tunnel WebSocket as a byte stream.
type wsConn struct {
	c *websocket.Conn
	r io.Reader
}

func dialTunnel(u, token string) (*wsConn, error) {
	d := websocket.Dialer{Subprotocols: []string{"binary"}, ReadBufferSize: 64 << 10, WriteBufferSize: 64 << 10}
	c, res, err := d.Dial(u, http.Header{"Authorization": {"Bearer " + token}})
	if err != nil {
		return nil, fmt.Errorf("dial %s: %v", u, err)
	}
	res.Body.Close()
	return &wsConn{c: c}, nil
}

func (w *wsConn) Write(p []byte) (int, error) {
	return len(p), w.c.WriteMessage(websocket.BinaryMessage, p)
}

func (w *wsConn) Read(p []byte) (int, error) {
	for {
		if w.r != nil {
			n, err := w.r.Read(p)
			if err == io.EOF {
				w.r = nil
				if n > 0 {
					return n, nil
				}
				continue
			}
			return n, err
		}
		_, r, err := w.c.NextReader()
		if err != nil {
			return 0, err
		}
		w.r = r
	}
}

func (w *wsConn) Close() error { return w.c.Close() }

// echoThroughput sends data through a new connection to the echo server
// and reads it back, checking it; MiB/s of payload.
func echoThroughput(dial func() (io.ReadWriteCloser, error), data []byte) (float64, error) {
	c, err := dial()
	if err != nil {
		return 0, err
	}
	defer c.Close()
	start := time.Now()
	errc := make(chan error, 1)
	go func() {
		for off := 0; off < len(data); off += tunnelChunk {
			if _, err := c.Write(data[off:min(off+tunnelChunk, len(data))]); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	got := make([]byte, len(data))
	if _, err := io.ReadFull(c, got); err != nil {
		return 0, fmt.Errorf("read back: %w", err)
	}
	el := time.Since(start)
	if err := <-errc; err != nil {
		return 0, err
	}
	if !bytes.Equal(got, data) {
		return 0, fmt.Errorf("the bytes came back changed")
	}
	return float64(len(data)) / (1 << 20) / el.Seconds(), nil
}
