//go:build !linux

package sshd

import (
	"errors"
	"net"
)

func listenUnixIn(string, []string, func(int) error) (net.Listener, error) {
	return nil, errors.New("unix-socket forwarding is supported on Linux only")
}

func chownFd(int, int, int) error { return errors.New("unsupported") }
