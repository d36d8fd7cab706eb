package sessions

import (
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// exitWatch waits for the exits of many processes on one goroutine: an
// epoll instance holds their pidfds and is itself waited on through the
// runtime's poller. A goroutine per shell blocked on its own pidfd cost
// every idle session a stack, and os.Process.Wait an OS thread. The
// goroutine runs only while some process is watched.
type exitWatch struct {
	mu      sync.Mutex
	ep      *os.File // nil while nothing is watched
	next    int32
	waiting map[int32]exitWaiter
}

type exitWaiter struct {
	pidfd int
	fn    func()
}

// watch calls fn, on a goroutine of its own, once process pid has exited
// (without reaping it). It reports false, and never calls fn, when pidfds
// or epoll are unavailable.
func (w *exitWatch) watch(pid int, fn func()) bool {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return false
	}
	unix.CloseOnExec(fd)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ep == nil {
		ep, err := newEpoll()
		if err != nil {
			unix.Close(fd)
			return false
		}
		w.ep, w.waiting = ep, map[int32]exitWaiter{}
		go w.run(ep)
	}
	w.next++
	id := w.next
	if err := epollCtl(w.ep, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: id}); err != nil {
		unix.Close(fd)
		w.stopIfIdleLocked()
		return false
	}
	w.waiting[id] = exitWaiter{pidfd: fd, fn: fn}
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

// run hands each exit to its waiter until nothing is watched.
func (w *exitWatch) run(ep *os.File) {
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
			wt, ok := w.waiting[ev.Fd]
			if !ok {
				continue
			}
			delete(w.waiting, ev.Fd)
			unix.Close(wt.pidfd) // which leaves the epoll set
			go wt.fn()
		}
		stopped := w.stopIfIdleLocked()
		w.mu.Unlock()
		if stopped {
			return
		}
	}
}

// stopIfIdleLocked closes the epoll instance when nothing is watched.
func (w *exitWatch) stopIfIdleLocked() bool {
	if len(w.waiting) > 0 || w.ep == nil {
		return false
	}
	w.ep.Close()
	w.ep = nil
	return true
}
