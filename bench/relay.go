package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/creack/pty"
)

// tcpRelay is a floor rather than a peer: the least any server in Go adds
// to a terminal over TCP. The benchmark runs itself as a separate process
// (-relay) that accepts one connection, starts a shell on a PTY and copies
// bytes both ways, one goroutine each, with no framing, no session and no
// fan-out. What it measures above the raw PTY is two processes' wake-ups
// and loopback TCP on this machine.
const tcpRelay = "TCP relay in Go (floor)"

// relayMain is the -relay process: it prints its address, serves one
// client and exits when the shell does.
func relayMain(home string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Println(ln.Addr())
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(30 * time.Second))
	c, err := ln.Accept()
	ln.Close()
	if err != nil {
		return err
	}
	defer c.Close()
	cmd := exec.Command("/bin/bash", "--noprofile", "--norc")
	cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "TERM=xterm-256color", "PS1=$ "}
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 120, Rows: 40})
	if err != nil {
		return err
	}
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := c.Read(buf)
			if err != nil {
				cmd.Process.Kill()
				return
			}
			if _, err := f.Write(buf[:n]); err != nil {
				return
			}
		}
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := f.Read(buf)
		if err != nil {
			break // EIO: the shell and everything it started have gone
		}
		if _, err := c.Write(buf[:n]); err != nil {
			break
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	return nil
}

// startRelay runs a -relay process and connects to it.
func startRelay(home string) (*term, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-relay", home)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("relay: %w", err)
	}
	c, err := net.Dial("tcp", strings.TrimSpace(addr))
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("relay: %w", err)
	}
	// The relay's exit closes its end after the last output; closing ours
	// then would drop what is still unread.
	return &term{in: c, out: c, buf: make([]byte, 256<<10), done: waitDone(cmd), kill: func() { cmd.Process.Kill() }}, nil
}
