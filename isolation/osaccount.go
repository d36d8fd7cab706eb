package isolation

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Prefix starts the name of every OS account codeterm creates: codeterm
// user alice runs as ct-alice (ct-alice-2... when that name is taken by an
// account codeterm did not create for this data dir).
const Prefix = "ct-"

// System names the OS accounts of one data dir and creates and removes
// them with the system's useradd and userdel.
type System struct {
	// Marker is written to the GECOS field of every account created for a
	// data dir, so that an account is reused only by the data dir (server)
	// that created it and removed only by it.
	Marker string
	// Homes holds the HOME of each created account: Homes/<codeterm user>.
	Homes string
}

// NewSystem returns the System of a data dir.
func NewSystem(dataDir string) (*System, error) {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(abs))
	return &System{Marker: "codeterm " + hex.EncodeToString(sum[:6]), Homes: filepath.Join(abs, "homes")}, nil
}

// CgroupName is the directory, under the server's own cgroup, that holds a
// cgroup per user of this data dir.
func (s *System) CgroupName() string {
	return "codeterm-" + strings.TrimPrefix(s.Marker, "codeterm ")
}

// Create makes a locked system account for codeterm user name, or returns
// the one a previous run made for this data dir. The account has no
// password (sshd of the host refuses it) and its HOME under Homes.
func (s *System) Create(ctx context.Context, name string) (*Account, error) {
	home := filepath.Join(s.Homes, name)
	for i := 1; i < 100; i++ {
		osName := accountName(name, i)
		if ok, err := s.ours(osName); err != nil {
			return nil, err
		} else if ok {
			return s.prepare(osName, home)
		}
		if _, err := user.Lookup(osName); err == nil {
			continue // someone else's: choose another name
		}
		out, err := exec.CommandContext(ctx, sbin("useradd"), "--system", "--user-group", "--no-create-home",
			"--home-dir", home, "--shell", "/bin/sh", "--comment", s.Marker, osName).CombinedOutput()
		if err != nil {
			if _, lerr := user.Lookup(osName); lerr == nil {
				continue // taken meanwhile
			}
			return nil, fmt.Errorf("useradd %s: %w: %s", osName, err, bytes.TrimSpace(out))
		}
		return s.prepare(osName, home)
	}
	return nil, fmt.Errorf("no free OS account name for %q", name)
}

// prepare looks the account up and gives it its HOME.
func (s *System) prepare(osName, home string) (*Account, error) {
	a, err := LookupAccount(osName)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(s.Homes, 0o711); err != nil {
		return nil, fmt.Errorf("homes: %w", err)
	}
	if err := a.MkdirPrivate(home); err != nil {
		return nil, err
	}
	return a, nil
}

// sbin finds a system tool also when /usr/sbin is not on PATH (a service's
// or a non-login shell's environment).
func sbin(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return filepath.Join("/usr/sbin", name)
}

// accountName is ct-<name> (n = 1) or ct-<name>-<n>, within the 32
// characters Linux allows.
func accountName(name string, n int) string {
	suffix := ""
	if n > 1 {
		suffix = "-" + strconv.Itoa(n)
	}
	base := Prefix + name
	if len(base)+len(suffix) > 32 {
		base = base[:32-len(suffix)]
	}
	return base + suffix
}

// ours reports whether osName exists and was created for this data dir.
func (s *System) ours(osName string) (bool, error) {
	gecos, err := gecosOf(osName)
	if err != nil || gecos == "" {
		return false, err
	}
	return gecos == s.Marker, nil
}

// gecosOf reads an account's GECOS field from /etc/passwd; "" when absent.
// os/user does not expose it as written (it cuts it at the first comma).
func gecosOf(osName string) (string, error) {
	b, err := os.ReadFile("/etc/passwd")
	if err != nil {
		return "", fmt.Errorf("read /etc/passwd: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) >= 7 && f[0] == osName {
			if f[4] == "" {
				return " ", nil // exists, no marker
			}
			return f[4], nil
		}
	}
	return "", nil
}

// ErrNotOurs refuses to remove an account codeterm did not create for this
// data dir.
var ErrNotOurs = errors.New("not an account codeterm created for this data dir")

// Remove ends every process of the account, then deletes it and its HOME
// under Homes. It refuses accounts it did not create (ErrNotOurs).
func (s *System) Remove(ctx context.Context, osName string) error {
	ok, err := s.ours(osName)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("remove %s: %w", osName, ErrNotOurs)
	}
	a, err := LookupAccount(osName)
	if err != nil {
		return err
	}
	// userdel refuses an account with processes; one may have started
	// between the kill and userdel (a login still in flight).
	for attempt := 1; ; attempt++ {
		if err := KillAll(ctx, a.UID); err != nil {
			return fmt.Errorf("remove %s: %w", osName, err)
		}
		out, err := exec.CommandContext(ctx, sbin("userdel"), osName).CombinedOutput()
		if err == nil {
			break
		}
		if attempt == 5 || len(processesOf(a.UID)) == 0 {
			return fmt.Errorf("userdel %s: %w: %s", osName, err, bytes.TrimSpace(out))
		}
	}
	if home := a.Home; filepath.Dir(home) == s.Homes {
		os.RemoveAll(home)
	}
	return nil
}

// KillAll sends SIGKILL to every process of uid until none is left, or ctx
// ends. The server's own uid is refused.
func KillAll(ctx context.Context, uid uint32) error {
	return killAll(ctx, uid, nil)
}

// killAll is KillAll; listed, if set, runs between listing the processes
// and killing them (tests reuse a pid there).
func killAll(ctx context.Context, uid uint32, listed func(pids []int)) error {
	if int(uid) == os.Getuid() || uid == 0 {
		return fmt.Errorf("refusing to kill every process of uid %d", uid)
	}
	for {
		pids := processesOf(uid)
		if len(pids) == 0 {
			return nil
		}
		if listed != nil {
			listed(pids)
		}
		for _, pid := range pids {
			killIfOwned(pid, uid)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("processes of uid %d still running: %w", uid, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// killIfOwned sends SIGKILL to the process pid if it belongs to uid. A pid
// listed a moment ago may name another user's process by now (the one
// listed exited, and pids come round quickly where pid_max is 32768), so
// the process is pinned first by a pidfd, which always names the process
// it was opened on, and its owner checked after that.
func killIfOwned(pid int, uid uint32) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return // gone
	}
	defer unix.Close(fd)
	if owned, _ := ownedBy(pid, uid); !owned {
		return
	}
	unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
}

// processesOf lists the processes whose real uid is uid (zombies left out:
// they ignore signals, and their parent reaps them).
func processesOf(uid uint32) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if owned, zombie := ownedBy(pid, uid); owned && !zombie {
			out = append(out, pid)
		}
	}
	return out
}

// ownedBy reports whether the process pid has the real uid uid, and
// whether it is a zombie; false if it does not exist.
func ownedBy(pid int, uid uint32) (owned, zombie bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return false, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "State:"); ok && strings.Contains(v, "Z") {
			zombie = true
		}
		if v, ok := strings.CutPrefix(line, "Uid:"); ok {
			f := strings.Fields(v)
			owned = len(f) > 0 && f[0] == strconv.FormatUint(uint64(uid), 10)
		}
	}
	return owned, zombie
}
