package sshd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"
)

// AttachLocal is `codeterm attach WORKSPACE[/SESSION]`: it attaches the
// terminal on stdin to the workspace's shared session through the attach
// socket named in the environment (see AttachSockVar), as `ssh -t host
// WORKSPACE` would, and returns the session's exit status when its shell
// exits, or 0 when the connection ends first.
func AttachLocal(ctx context.Context, target string, environ []string, stdin *os.File, stdout, stderr io.Writer) (int, error) {
	sock, term := "", "xterm-256color"
	for _, kv := range environ {
		if v, ok := cutVar(kv, AttachSockVar); ok {
			sock = v
		}
		if v, ok := cutVar(kv, "TERM"); ok && v != "" {
			term = v
		}
	}
	if sock == "" {
		return 1, fmt.Errorf("attach: %s is not set: run codeterm attach in a command or shell of the workspace login (ssh or mosh to USER+WORKSPACE@host)", AttachSockVar)
	}
	fd := int(stdin.Fd())
	ws, err := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ)
	if err != nil {
		return 1, errors.New("attach: stdin is not a terminal")
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		return 1, fmt.Errorf("attach: is the codeterm server running? %w", err)
	}
	// The socket is the server's, in a directory only the user reaches:
	// there is no host key to check.
	c, chans, reqs, err := gossh.NewClientConn(conn, sock, &gossh.ClientConfig{
		User: "attach", HostKeyCallback: gossh.InsecureIgnoreHostKey(),
	})
	if err != nil {
		conn.Close()
		return 1, fmt.Errorf("attach: %w", err)
	}
	client := gossh.NewClient(c, chans, reqs)
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		return 1, fmt.Errorf("attach: %w", err)
	}
	defer sess.Close()
	if err := sess.RequestPty(term, int(ws.Row), int(ws.Col), gossh.TerminalModes{}); err != nil {
		return 1, fmt.Errorf("attach: pty: %w", err)
	}
	restore, err := makeRaw(fd)
	if err != nil {
		return 1, fmt.Errorf("attach: %w", err)
	}
	defer restore()

	sess.Stdin, sess.Stdout, sess.Stderr = stdin, stdout, stderr
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	defer signal.Stop(winch)
	go func() {
		for range winch {
			if ws, err := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ); err == nil {
				sess.WindowChange(int(ws.Row), int(ws.Col))
			}
		}
	}()
	if err := sess.Start(target); err != nil {
		return 1, fmt.Errorf("attach: %w", err)
	}
	err = sess.Wait()
	var ee *gossh.ExitError
	var missing *gossh.ExitMissingError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &ee):
		return ee.ExitStatus(), nil
	case errors.As(err, &missing):
		return 0, nil // detached: the server went away
	}
	return 1, fmt.Errorf("attach: %w", err)
}

func cutVar(kv, name string) (string, bool) {
	if len(kv) > len(name) && kv[:len(name)] == name && kv[len(name)] == '=' {
		return kv[len(name)+1:], true
	}
	return "", false
}

// makeRaw puts the terminal in raw mode, as ssh does, so that every key
// reaches the shared session; restore puts it back.
func makeRaw(fd int) (restore func(), err error) {
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, fmt.Errorf("raw mode: %w", err)
	}
	raw := *old
	raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	raw.Oflag &^= unix.OPOST
	raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	raw.Cflag &^= unix.CSIZE | unix.PARENB
	raw.Cflag |= unix.CS8
	raw.Cc[unix.VMIN] = 1
	raw.Cc[unix.VTIME] = 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &raw); err != nil {
		return nil, fmt.Errorf("raw mode: %w", err)
	}
	return func() { unix.IoctlSetTermios(fd, unix.TCSETS, old) }, nil
}
