package sessions

import (
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// readyWatch waits for many descriptors on one goroutine: an epoll
// instance holds them and is itself waited on through the runtime's
// poller. It serves what every idle session would otherwise keep a
// goroutine (and its stack) blocked on: the shell's exit (a pidfd), the
// agent socket's next connection and, once the shell has been quiet for a
// while, its terminal's next output (park.go). The goroutine runs only
// while something is watched.
type readyWatch struct {
	mu      sync.Mutex
	ep      *os.File // nil while nothing is watched
	next    int32
	waiting map[int32]func()
}

// once calls fn, on a goroutine of its own, the next time fd is readable;
// the caller keeps fd open until then or until it calls cancel with the
// id. It reports false, and never calls fn, when epoll is unavailable.
func (w *readyWatch) once(fd int, fn func()) (id int32, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ep == nil {
		ep, err := newEpoll()
		if err != nil {
			return 0, false
		}
		w.ep, w.waiting = ep, map[int32]func(){}
		go w.run(ep)
	}
	w.next++
	id = w.next
	ev := &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: id}
	err := epollCtl(w.ep, unix.EPOLL_CTL_ADD, fd, ev)
	if err == unix.EEXIST { // disarmed after its last call
		err = epollCtl(w.ep, unix.EPOLL_CTL_MOD, fd, ev)
	}
	if err != nil {
		w.stopIfIdleLocked()
		return 0, false
	}
	w.waiting[id] = fn
	return id, true
}

// cancel forgets the call once(fd, ...) returned id for, if it has not
// happened yet, and reports whether it had not. fd must still be open.
func (w *readyWatch) cancel(fd int, id int32) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.waiting[id]; !ok {
		return false
	}
	delete(w.waiting, id)
	epollCtl(w.ep, unix.EPOLL_CTL_DEL, fd, nil)
	w.stopIfIdleLocked()
	return true
}

// exited calls fn, on a goroutine of its own, once process pid has exited
// (without reaping it). It reports false, and never calls fn, when pidfds
// or epoll are unavailable; os.Process.Wait then blocks a thread instead.
func (w *readyWatch) exited(pid int, fn func()) bool {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return false
	}
	unix.CloseOnExec(fd)
	// Closing the pidfd takes it out of the epoll set.
	if _, ok := w.once(fd, func() { unix.Close(fd); fn() }); !ok {
		unix.Close(fd)
		return false
	}
	return true
}

// newEpoll returns an epoll instance the runtime's poller can wait on.
func newEpoll() (*os.File, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), "epoll"), nil
}

func epollCtl(ep *os.File, op, fd int, ev *unix.EpollEvent) error {
	rc, err := ep.SyscallConn()
	if err != nil {
		return err
	}
	var cerr error
	if err := rc.Control(func(epfd uintptr) { cerr = unix.EpollCtl(int(epfd), op, fd, ev) }); err != nil {
		return err
	}
	return cerr
}

// run hands each readiness to its waiter until nothing is watched.
func (w *readyWatch) run(ep *os.File) {
	rc, err := ep.SyscallConn()
	if err != nil {
		return
	}
	events := make([]unix.EpollEvent, 16)
	for {
		var n int
		err := rc.Read(func(epfd uintptr) bool {
			var werr error
			n, werr = unix.EpollWait(int(epfd), events, 0)
			return werr == nil && n > 0 // else wait until the instance is readable
		})
		if err != nil {
			return // closed: nothing is watched (no deadline is ever set)
		}
		w.mu.Lock()
		for _, ev := range events[:n] {
			if fn, ok := w.waiting[ev.Fd]; ok {
				// One-shot: the descriptor stays in the set, disarmed,
				// until its owner closes it or watches it again.
				delete(w.waiting, ev.Fd)
				go fn()
			}
		}
		stopped := w.stopIfIdleLocked()
		w.mu.Unlock()
		if stopped {
			return
		}
	}
}

// stopIfIdleLocked closes the epoll instance when nothing is watched.
func (w *readyWatch) stopIfIdleLocked() bool {
	if len(w.waiting) > 0 || w.ep == nil {
		return false
	}
	w.ep.Close()
	w.ep = nil
	return true
}
