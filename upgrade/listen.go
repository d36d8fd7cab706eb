package upgrade

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"
)

// listener is a listening socket that an upgrade hands over. While an
// upgrade is under way Accept waits instead of accepting: new connections
// queue in the kernel's backlog for the next image, none is refused and
// none is accepted by an image about to go.
type listener struct {
	net.Listener
	name, addr string
	tcp        *net.TCPListener
	u          *Upgrader
}

// Listen returns the listener the previous image handed over under name if
// it was listening for the same configured addr, else a new one on addr. If
// a changed addr cannot be listened on, the handed-over socket is kept (and
// the error logged): an upgrade must not end the server, and its shells,
// over an address.
func (u *Upgrader) Listen(name, addr string) (net.Listener, error) {
	old, oldAddr, err := u.inherited(name)
	if err != nil {
		return nil, err
	}
	var ln net.Listener
	switch {
	case old != nil && oldAddr == addr:
		ln = old
	default:
		ln, err = net.Listen("tcp", addr)
		if err == nil && old != nil {
			old.Close()
		}
		if err != nil && old == nil {
			return nil, fmt.Errorf("%s listen: %w", name, err)
		}
		if err != nil {
			u.log.Error("upgrade: the new address is unusable; keeping the old one", "listener", name, "addr", addr, "old", oldAddr, "err", err)
			ln, addr = old, oldAddr
		}
	}
	tcp, ok := ln.(*net.TCPListener)
	if !ok {
		ln.Close()
		return nil, fmt.Errorf("%s listen on %s: not TCP", name, addr)
	}
	l := &listener{Listener: ln, name: name, addr: addr, tcp: tcp, u: u}
	u.mu.Lock()
	u.listeners = append(u.listeners, l)
	u.mu.Unlock()
	return l, nil
}

// inherited returns the socket the previous image listened on as name, and
// the address it was configured with.
func (u *Upgrader) inherited(name string) (net.Listener, string, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.in == nil {
		return nil, "", nil
	}
	for _, ls := range u.in.Listeners {
		f := u.inFiles[ls.FD]
		if ls.Name != name || f == nil {
			continue
		}
		delete(u.inFiles, ls.FD)
		ln, err := net.FileListener(f)
		f.Close()
		if err != nil {
			return nil, "", fmt.Errorf("%s: inherited listener: %w", name, err)
		}
		return ln, ls.Addr, nil
	}
	return nil, "", nil
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		if p := l.u.pausedCh(); p != nil {
			<-p
			continue
		}
		c, err := l.Listener.Accept()
		if err != nil && l.u.pausedCh() != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue // woken by pause
			}
		}
		return c, err
	}
}

func (l *listener) file() (*os.File, error) { return l.tcp.File() }

func (u *Upgrader) pausedCh() chan struct{} {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.paused
}

// pause stops every Accept until resume; one blocked in the kernel is
// woken by a deadline in the past.
func (u *Upgrader) pause() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.paused = make(chan struct{})
	for _, l := range u.listeners {
		l.tcp.SetDeadline(time.Unix(1, 0))
	}
}

func (u *Upgrader) resume() {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, l := range u.listeners {
		l.tcp.SetDeadline(time.Time{})
	}
	close(u.paused)
	u.paused = nil
}
