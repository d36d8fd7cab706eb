package isolation

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// GiveSocket makes a unix socket the server listens on the account's own:
// owner the account, mode 0600, in a directory the account may pass
// through (its own, or one of mode 0711: the caller's to arrange).
// Agent-forwarding and attach sockets are handed out this way. A nil Account keeps it the server's,
// mode 0600.
func (a *Account) GiveSocket(path string) error {
	if err := os.Chmod(path, 0o600); err != nil {
		return fmt.Errorf("socket %s: %w", path, err)
	}
	if a == nil {
		return nil
	}
	return a.Chown(path)
}

// PeerUID is the uid of the process at the other end of a unix socket, as
// the kernel recorded it when the connection was made (SO_PEERCRED).
func PeerUID(conn *net.UnixConn) (int, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return -1, err
	}
	uid := -1
	var cerr error
	err = raw.Control(func(fd uintptr) {
		var cred *unix.Ucred
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
		if cerr == nil {
			uid = int(cred.Uid)
		}
	})
	if err == nil {
		err = cerr
	}
	return uid, err
}
