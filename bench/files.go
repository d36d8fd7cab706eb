package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// transfer is one way of moving the file up and down.
type transfer struct {
	name     string
	up, down func(local, remoteName string) (time.Duration, error)
}

// runFiles measures uploads and downloads of one random file of mib MiB
// over codeterm's Socket.IO file events (the real socket.io-client, as the
// page), codeterm's HTTP GET/PUT, scp over codeterm's SSH and scp over
// OpenSSH, alternating the order round by round, and writes a report.
func runFiles(ctx context.Context, mib, rounds int, out string) error {
	e, err := newEnv()
	if err != nil {
		return err
	}
	defer e.close()
	if e.codeterm, err = startCodeterm(ctx, e, "files"); err != nil {
		return fmt.Errorf("codeterm: %w", err)
	}
	// Without the benchmark's ForceCommand, which would answer scp's sftp
	// subsystem with a shell.
	if e.openssh, err = startSSHD(ctx, e, "openssh-files", ""); err != nil {
		return fmt.Errorf("openssh: %w", err)
	}
	if _, err := os.Stat(filepath.Join(nodeDir, "node_modules", "socket.io-client")); err != nil {
		return fmt.Errorf("bench/node is not installed (cd bench/node && npm ci --ignore-scripts): %v", err)
	}
	src := filepath.Join(e.dir, "src.bin")
	want, err := writeRandom(src, int64(mib)<<20)
	if err != nil {
		return err
	}
	ct := e.codeterm
	wsID := ct.workspaces["demo"]
	wsDir := filepath.Join(ct.data, "workspaces", ct.user, "demo")
	osDir := filepath.Join(e.dir, "openssh-files", "root")
	if err := os.MkdirAll(osDir, 0o755); err != nil {
		return err
	}
	// scp takes the port as -P; sshArgs ends with "-p", port.
	scp := func(port, from, to string) (time.Duration, error) {
		a := e.sshArgs(port)
		args := append(a[:len(a)-2:len(a)-2], "-P", port, "-q", from, to)
		return timeCmd(exec.CommandContext(ctx, "scp", args...))
	}
	ctRemote := ct.user + "+demo@127.0.0.1:"
	osRemote := "root@127.0.0.1:" + osDir + "/"
	node := func(args ...string) (time.Duration, error) {
		cmd := exec.CommandContext(ctx, "node", append([]string{filepath.Join(nodeDir, "files.mjs")}, args...)...)
		b, err := cmd.Output()
		if err != nil {
			return 0, fmt.Errorf("node files.mjs %s: %w", args[0], err)
		}
		var r struct {
			Seconds float64 `json:"seconds"`
			Sha256  string  `json:"sha256"`
		}
		if err := json.Unmarshal(b, &r); err != nil {
			return 0, fmt.Errorf("node files.mjs: %q: %w", b, err)
		}
		if r.Sha256 != want {
			return 0, fmt.Errorf("socket %s: server sha256 %s, want %s", args[0], r.Sha256, want)
		}
		return time.Duration(r.Seconds * float64(time.Second)), nil
	}
	fileURL := func(name string) string { return ct.httpURL + "/api/workspaces/" + wsID + "/files/" + name }
	transfers := []transfer{
		{
			name: "scp over OpenSSH",
			up:   func(l, r string) (time.Duration, error) { return scp(e.openssh.port, l, osRemote+r) },
			down: func(l, r string) (time.Duration, error) { return scp(e.openssh.port, osRemote+r, l) },
		},
		{
			name: "scp over codeterm's SSH",
			up:   func(l, r string) (time.Duration, error) { return scp(ct.sshPort, l, ctRemote+r) },
			down: func(l, r string) (time.Duration, error) { return scp(ct.sshPort, ctRemote+r, l) },
		},
		{
			name: "codeterm HTTP PUT / GET",
			up: func(l, r string) (time.Duration, error) {
				f, err := os.Open(l)
				if err != nil {
					return 0, err
				}
				defer f.Close()
				fi, _ := f.Stat()
				req, _ := http.NewRequestWithContext(ctx, "PUT", fileURL(r), f)
				req.ContentLength = fi.Size()
				return httpDo(req, ct.token, io.Discard)
			},
			down: func(l, r string) (time.Duration, error) {
				f, err := os.Create(l)
				if err != nil {
					return 0, err
				}
				defer f.Close()
				req, _ := http.NewRequestWithContext(ctx, "GET", fileURL(r), nil)
				return httpDo(req, ct.token, f)
			},
		},
		{
			name: "codeterm Socket.IO (socket.io-client, deflate as browsers)",
			up:   func(l, r string) (time.Duration, error) { return node("upload", ct.httpURL, ct.token, wsID, l, r) },
			down: func(l, r string) (time.Duration, error) { return node("download", ct.httpURL, ct.token, wsID, r, l) },
		},
		{
			name: "codeterm Socket.IO (socket.io-client, no deflate)",
			up: func(l, r string) (time.Duration, error) {
				return node("upload", ct.httpURL, ct.token, wsID, l, r, "nodeflate")
			},
			down: func(l, r string) (time.Duration, error) {
				return node("download", ct.httpURL, ct.token, wsID, r, l, "nodeflate")
			},
		},
	}
	res := newResults()
	back := filepath.Join(e.dir, "back.bin")
	for round := 1; round <= rounds; round++ {
		for i := range transfers {
			t := transfers[(i+round-1)%len(transfers)]
			if ctx.Err() != nil {
				return ctx.Err()
			}
			name := fmt.Sprintf("f%d.bin", round)
			d, err := t.up(src, name)
			if err != nil {
				return fmt.Errorf("%s upload: %w", t.name, err)
			}
			res.add("upload MiB/s", t.name, float64(mib)/d.Seconds())
			d, err = t.down(back, name)
			if err != nil {
				return fmt.Errorf("%s download: %w", t.name, err)
			}
			if got, err := fileHash(back); err != nil || got != want {
				return fmt.Errorf("%s download: sha256 %s, want %s (%v)", t.name, got, want, err)
			}
			res.add("download MiB/s", t.name, float64(mib)/d.Seconds())
			os.Remove(filepath.Join(wsDir, name))
			os.Remove(filepath.Join(osDir, name))
			os.Remove(back)
		}
		log.Printf("files: round %d/%d done", round, rounds)
	}
	report := filesReport(res, transfers, mib, rounds)
	fmt.Print(report)
	if err := os.WriteFile(out, []byte(report), 0o644); err != nil {
		return err
	}
	log.Printf("wrote %s", out)
	return nil
}

func filesReport(res *results, ts []transfer, mib, rounds int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# File transfer: %d MiB, median of %d rounds\n\n", mib, rounds)
	fmt.Fprintf(&b, "`go run ./bench -files %d` on %s/%s, %d CPUs, %s. All on loopback in one run, the order rotated every round. "+
		"The machine is shared and was busy: read the ratios, not the absolute figures.\n\n", mib, runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), time.Now().UTC().Format("2006-01-02"))
	b.WriteString("| transfer | upload MiB/s | vs scp (OpenSSH) | vs scp (codeterm SSH) | download MiB/s | vs scp (OpenSSH) | vs scp (codeterm SSH) |\n|---|---|---|---|---|---|---|\n")
	fig := func(metric, sys string) float64 { v, _ := res.figure(metric, sys); return v }
	for _, t := range ts {
		up, down := fig("upload MiB/s", t.name), fig("download MiB/s", t.name)
		upOS, upCT := fig("upload MiB/s", ts[0].name), fig("upload MiB/s", ts[1].name)
		dnOS, dnCT := fig("download MiB/s", ts[0].name), fig("download MiB/s", ts[1].name)
		fmt.Fprintf(&b, "| %s | %.0f | %.2f× | %.2f× | %.0f | %.2f× | %.2f× |\n", t.name, up, up/upOS, up/upCT, down, down/dnOS, down/dnCT)
	}
	b.WriteString("\nEvery download is checked against the source's sha256; the socket transfers also check the sha256 the server reports. " +
		"scp uses OpenSSH's client against both servers (default ciphers, loopback). HTTP is Go's net/http client streaming from and to a file. " +
		"The Socket.IO client is bench/node/files.mjs: socket.io-client 4.8 over a websocket, the chunk size and window the server announces (512 KiB, 8 in flight). " +
		"With permessage-deflate negotiated the client deflates every chunk it sends, as a browser does: random data does not shrink, and deflating it is what limits the upload; " +
		"the server sends downloads' chunks uncompressed when a sample of them does not shrink.\n")
	return b.String()
}

func timeCmd(cmd *exec.Cmd) (time.Duration, error) {
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("%s: %v: %s", strings.Join(cmd.Args, " "), err, out)
	}
	return time.Since(start), nil
}

func httpDo(req *http.Request, token string, w io.Writer) (time.Duration, error) {
	req.Header.Set("Authorization", "Bearer "+token)
	start := time.Now()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if _, err := io.Copy(w, res.Body); err != nil {
		return 0, err
	}
	if res.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s %s: %s", req.Method, req.URL.Path, res.Status)
	}
	return time.Since(start), nil
}

// writeRandom writes n random bytes and returns their sha256.
func writeRandom(path string, n int64) (string, error) {
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.CopyN(io.MultiWriter(f, h), rand.Reader, n); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), f.Close()
}

func fileHash(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
