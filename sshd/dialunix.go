package sshd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/codeterm/codeterm/isolation"
)

// dialUnixAs connects to the unix socket at path with acct's credentials,
// so a forward reaches only the sockets the account itself could open: a
// child (`codeterm dial-unix PATH`, see DialUnixHelper) running as acct
// connects and passes the connected descriptor back. A nil acct dials from
// the server.
func (s *Server) dialUnixAs(ctx context.Context, acct *isolation.Account, path string) (net.Conn, error) {
	if acct == nil {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}
	if s.Executable == "" {
		return nil, errors.New("unix-socket forwarding is not available (no helper executable)")
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "dial-unix"), os.NewFile(uintptr(fds[1]), "dial-unix")
	defer ours.Close()
	cmd := exec.CommandContext(ctx, s.Executable, "dial-unix", path)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	cmd.Dir = "/"
	cmd.ExtraFiles = []*os.File{theirs}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	acct.Apply(cmd)
	err = acct.Start(cmd)
	theirs.Close()
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", path, err)
	}
	fd, rerr := receiveFD(ours)
	if err := cmd.Wait(); err != nil || rerr != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return nil, errors.New(msg)
		}
		return nil, fmt.Errorf("dial %s: %w", path, errors.Join(err, rerr))
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	return net.FileConn(f)
}

// receiveFD reads one descriptor passed with SCM_RIGHTS.
func receiveFD(sock *os.File) (int, error) {
	buf, oob := make([]byte, 1), make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return -1, err
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return -1, errors.New("no descriptor received")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return -1, errors.New("no descriptor received")
	}
	return fds[0], nil
}

// DialUnixHelper is `codeterm dial-unix PATH`: it connects to the unix
// socket at path with the process's own credentials and passes the
// connection over the socket at descriptor 3 to the server that started it.
func DialUnixHelper(path string) error {
	back := os.NewFile(3, "server")
	if back == nil {
		return errors.New("dial-unix: no descriptor 3 (run by the codeterm server only)")
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		return err
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		return fmt.Errorf("connect %s: %w", path, err)
	}
	return unix.Sendmsg(int(back.Fd()), []byte{0}, unix.UnixRights(fd), nil, 0)
}
