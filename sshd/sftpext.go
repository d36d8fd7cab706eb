package sshd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync"
	"syscall"
)

// SFTP packet types and status codes (draft-ietf-secsh-filexfer-02, the
// version OpenSSH speaks).
const (
	fxpInit     = 1
	fxpVersion  = 2
	fxpOpen     = 3
	fxpClose    = 4
	fxpLstat    = 7
	fxpStat     = 17
	fxpSymlink  = 20
	fxpStatus   = 101
	fxpHandle   = 102
	fxpName     = 104
	fxpExtended = 200

	fxOK               = 0
	fxNoSuchFile       = 2
	fxPermissionDenied = 3
	fxFailure          = 4
	fxBadMessage       = 5
	fxOpUnsupported    = 8

	// maxSFTPPacket bounds a request: OpenSSH's sftp-server allows 256 KiB.
	maxSFTPPacket = 256 << 10
)

// sftpFront stands between the channel and pkg/sftp's server and handles
// what that server gets wrong or lacks, as OpenSSH's sftp-server does:
//
//   - SYMLINK stores the target unchanged; pkg/sftp resolves a relative
//     target against its working directory, which points the link elsewhere.
//   - fsync@openssh.com (sshfs, asyncssh, sftp put -f) flushes the file.
//   - expand-path@openssh.com gives "~" the meaning it has in a shell: HOME.
//   - LSTAT of "dir/" follows a link, as lstat(2) does.
//   - an extension pkg/sftp does not know gets SSH_FX_OP_UNSUPPORTED;
//     pkg/sftp leaves it unanswered, which hangs the client.
//
// Everything else passes through. Before it handles a request itself, the
// front waits until pkg/sftp has answered every earlier one, so a write is on
// disk before its fsync and a directory exists before a link in it.
type sftpFront struct {
	ch   io.ReadWriter // the SSH channel
	home string        // where relative paths start, and what "~" means

	toServer *io.PipeReader // what pkg/sftp reads
	feed     *io.PipeWriter

	wmu sync.Mutex // whole packets onto ch
	out []byte     // pkg/sftp's output not yet a whole packet

	mu      sync.Mutex
	idle    *sync.Cond        // signalled when pending drops or the server ends
	pending int               // requests passed on and not answered yet
	ended   bool              // pkg/sftp's server has returned
	opens   map[uint32]string // OPEN request id → path, until its HANDLE
	handles map[string]string // open handle → path, until CLOSE
}

func newSFTPFront(ch io.ReadWriter, home string) *sftpFront {
	f := &sftpFront{ch: ch, home: home, opens: map[uint32]string{}, handles: map[string]string{}}
	f.idle = sync.NewCond(&f.mu)
	f.toServer, f.feed = io.Pipe()
	return f
}

// Read, Write and Close are pkg/sftp's side of the front.
func (f *sftpFront) Read(p []byte) (int, error) { return f.toServer.Read(p) }

// Close ends pkg/sftp's side; the channel is the caller's to close.
func (f *sftpFront) Close() error {
	f.toServer.CloseWithError(io.ErrClosedPipe)
	f.mu.Lock()
	f.ended = true
	f.idle.Broadcast()
	f.mu.Unlock()
	return nil
}

// Write takes pkg/sftp's responses, which it writes as a header and a
// payload, and passes each on whole so that the front's own answers never
// land inside one.
func (f *sftpFront) Write(p []byte) (int, error) {
	f.out = append(f.out, p...)
	for len(f.out) >= 4 {
		n := int(binary.BigEndian.Uint32(f.out))
		if len(f.out) < 4+n {
			break
		}
		pkt := f.out[4 : 4+n]
		if err := f.fromServer(pkt); err != nil {
			return 0, err
		}
		f.out = f.out[4+n:]
	}
	if len(f.out) == 0 {
		f.out = f.out[:0:0] // drop a large read's buffer
	}
	return len(p), nil
}

func (f *sftpFront) fromServer(pkt []byte) error {
	if len(pkt) == 0 {
		return nil
	}
	switch pkt[0] {
	case fxpVersion:
		pkt = append(pkt[:len(pkt):len(pkt)], sftpStrings("fsync@openssh.com", "1", "expand-path@openssh.com", "1")...)
	case fxpHandle:
		if id, rest, ok := sftpUint32(pkt[1:]); ok {
			if h, _, ok := sftpString(rest); ok {
				f.mu.Lock()
				if p, ok := f.opens[id]; ok {
					f.handles[h] = p
					delete(f.opens, id)
				}
				f.mu.Unlock()
			}
		}
	}
	err := f.send(pkt)
	if pkt[0] != fxpVersion {
		f.mu.Lock()
		f.pending--
		f.idle.Broadcast()
		f.mu.Unlock()
	}
	return err
}

// send writes one packet (type byte and body) to the client.
func (f *sftpFront) send(pkt []byte) error {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(pkt)))
	if _, err := f.ch.Write(append(n[:], pkt...)); err != nil {
		return fmt.Errorf("sftp send: %w", err)
	}
	return nil
}

// pump reads the client's requests until the channel ends, answering the
// front's own and passing the rest to pkg/sftp.
func (f *sftpFront) pump() {
	err := f.readRequests()
	f.feed.CloseWithError(err) // nil: EOF, pkg/sftp ends cleanly
}

func (f *sftpFront) readRequests() error {
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(f.ch, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		n := binary.BigEndian.Uint32(hdr[:])
		if n == 0 || n > maxSFTPPacket {
			return fmt.Errorf("sftp: packet of %d bytes", n)
		}
		pkt := make([]byte, n)
		if _, err := io.ReadFull(f.ch, pkt); err != nil {
			return err
		}
		handled, err := f.request(pkt)
		if err != nil {
			return err
		}
		if handled {
			continue
		}
		if pkt[0] != fxpInit {
			f.mu.Lock()
			f.pending++
			f.mu.Unlock()
		}
		if _, err := f.feed.Write(append(hdr[:], pkt...)); err != nil {
			return err
		}
	}
}

// request answers the requests the front handles itself, and notes what it
// needs of the others.
func (f *sftpFront) request(pkt []byte) (handled bool, err error) {
	id, body, ok := sftpUint32(pkt[1:])
	switch pkt[0] {
	case fxpOpen:
		if p, _, ok := sftpString(body); ok {
			f.mu.Lock()
			f.opens[id] = f.local(p)
			f.mu.Unlock()
		}
	case fxpLstat:
		// lstat("dir/") follows a link to a directory, as POSIX says and
		// OpenSSH's sftp-server does; pkg/sftp drops the slash first. sshfs
		// checks its base directory (alice+WS@host:ws/WS/) this way.
		if p, _, ok := sftpString(body); ok && strings.HasSuffix(p, "/") && p != "/" {
			pkt[0] = fxpStat
		}
	case fxpClose:
		if h, _, ok := sftpString(body); ok {
			f.mu.Lock()
			delete(f.handles, h)
			f.mu.Unlock()
		}
	case fxpSymlink:
		// OpenSSH sends the target first (the draft's order is the reverse).
		target, rest, ok1 := sftpString(body)
		link, _, ok2 := sftpString(rest)
		if !ok || !ok1 || !ok2 {
			return true, f.status(id, fxBadMessage, "malformed symlink request")
		}
		f.waitIdle()
		return true, f.statusErr(id, os.Symlink(target, f.local(link)))
	case fxpExtended:
		name, rest, ok1 := sftpString(body)
		if !ok || !ok1 {
			return true, f.status(id, fxBadMessage, "malformed extended request")
		}
		switch name {
		case "statvfs@openssh.com", "posix-rename@openssh.com", "hardlink@openssh.com":
			return false, nil // pkg/sftp's
		case "fsync@openssh.com":
			h, _, ok := sftpString(rest)
			if !ok {
				return true, f.status(id, fxBadMessage, "malformed fsync request")
			}
			f.waitIdle()
			return true, f.statusErr(id, f.fsync(h))
		case "expand-path@openssh.com":
			p, _, ok := sftpString(rest)
			if !ok {
				return true, f.status(id, fxBadMessage, "malformed expand-path request")
			}
			f.waitIdle()
			expanded, err := f.expand(p)
			if err != nil {
				return true, f.statusErr(id, err)
			}
			return true, f.name(id, expanded)
		}
		return true, f.status(id, fxOpUnsupported, "unsupported extension "+name)
	}
	return false, nil
}

// waitIdle waits until pkg/sftp has answered every request passed to it.
func (f *sftpFront) waitIdle() {
	f.mu.Lock()
	for f.pending > 0 && !f.ended {
		f.idle.Wait()
	}
	f.mu.Unlock()
}

// local is the file a client's path names, as pkg/sftp resolves it.
func (f *sftpFront) local(p string) string {
	if path.IsAbs(p) {
		return p
	}
	return path.Join(f.home, p)
}

// fsync flushes the file behind an open handle. fsync(2) flushes a file's
// data whichever descriptor it is called on, so a descriptor of our own
// serves for pkg/sftp's.
func (f *sftpFront) fsync(handle string) error {
	f.mu.Lock()
	p, ok := f.handles[handle]
	f.mu.Unlock()
	if !ok {
		return errors.New("invalid handle")
	}
	file, err := os.Open(p)
	if err != nil {
		return err
	}
	defer file.Close()
	return file.Sync()
}

// expand resolves "~", "~/..." and relative paths against HOME, as OpenSSH's
// sftp-server does.
func (f *sftpFront) expand(p string) (string, error) {
	switch {
	case p == "~":
		return f.home, nil
	case strings.HasPrefix(p, "~/"):
		return path.Join(f.home, p[2:]), nil
	case strings.HasPrefix(p, "~"):
		return "", fmt.Errorf("%s: ~user paths are not supported: %w", p, fs.ErrNotExist)
	}
	return path.Clean(f.local(p)), nil
}

func (f *sftpFront) status(id uint32, code uint32, msg string) error {
	pkt := []byte{fxpStatus}
	pkt = binary.BigEndian.AppendUint32(pkt, id)
	pkt = binary.BigEndian.AppendUint32(pkt, code)
	return f.send(append(pkt, sftpStrings(msg, "en")...))
}

func (f *sftpFront) statusErr(id uint32, err error) error {
	var errno syscall.Errno
	switch {
	case err == nil:
		return f.status(id, fxOK, "Success")
	case errors.Is(err, fs.ErrNotExist):
		return f.status(id, fxNoSuchFile, err.Error())
	case errors.Is(err, fs.ErrPermission):
		return f.status(id, fxPermissionDenied, err.Error())
	case errors.As(err, &errno):
		return f.status(id, fxFailure, errno.Error())
	}
	return f.status(id, fxFailure, err.Error())
}

// name answers with one path and no attributes.
func (f *sftpFront) name(id uint32, p string) error {
	pkt := []byte{fxpName}
	pkt = binary.BigEndian.AppendUint32(pkt, id)
	pkt = binary.BigEndian.AppendUint32(pkt, 1)
	pkt = append(pkt, sftpStrings(p, p)...)
	return f.send(binary.BigEndian.AppendUint32(pkt, 0))
}

func sftpUint32(b []byte) (uint32, []byte, bool) {
	if len(b) < 4 {
		return 0, nil, false
	}
	return binary.BigEndian.Uint32(b), b[4:], true
}

func sftpString(b []byte) (string, []byte, bool) {
	n, rest, ok := sftpUint32(b)
	if !ok || uint64(n) > uint64(len(rest)) {
		return "", nil, false
	}
	return string(rest[:n]), rest[n:], true
}

func sftpStrings(ss ...string) []byte {
	var b []byte
	for _, s := range ss {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	return b
}
