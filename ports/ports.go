// Package ports finds the TCP ports a workspace's processes listen on: the
// listening sockets of /proc/net/tcp{,6} whose inodes are open in a process
// of one of the workspace's sessions.
package ports

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Port is one listening TCP socket.
type Port struct {
	Port    int    `json:"port"`
	Address string `json:"address"` // the bound address: "0.0.0.0", "127.0.0.1", "::"...
	Process string `json:"process"` // the command name of the process holding it
	PID     int    `json:"pid"`
	// Protocol is what the port was seen to speak first, when it speaks
	// before the client does: "rfb" for a VNC server, else "".
	Protocol string `json:"protocol,omitempty"`
}

// Loopback is where the server reaches the port: codeterm only connects on
// the loopback interface, so a socket bound to another address alone is
// not reachable (ok false).
func (p Port) Loopback() (addr string, ok bool) {
	ip := net.ParseIP(p.Address)
	switch {
	case ip == nil:
		return "", false
	case ip.IsLoopback():
		return net.JoinHostPort(ip.String(), strconv.Itoa(p.Port)), true
	case ip.IsUnspecified() && ip.To4() != nil:
		return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.Port)), true
	case ip.IsUnspecified():
		return net.JoinHostPort("::1", strconv.Itoa(p.Port)), true
	}
	return "", false
}

// Listening returns the TCP ports in LISTEN state held open by any of pids,
// ordered by port then address. Processes that vanish meanwhile are skipped.
// The socket tables are read from the first live pid's network namespace,
// which is the one its listeners live in.
func Listening(pids []int) ([]Port, error) {
	owner := map[uint64]int{} // socket inode -> pid
	var netPID int
	for _, pid := range pids {
		if socketInodes(pid, owner) && netPID == 0 {
			netPID = pid
		}
	}
	if len(owner) == 0 {
		return []Port{}, nil
	}
	out := []Port{}
	seen := map[string]bool{}
	for _, table := range []string{"tcp", "tcp6"} {
		socks, err := readTable(fmt.Sprintf("/proc/%d/net/%s", netPID, table))
		if err != nil {
			if os.IsNotExist(err) {
				continue // no IPv6, or the process is gone
			}
			return nil, fmt.Errorf("list listening sockets: %w", err)
		}
		for _, s := range socks {
			pid, ok := owner[s.inode]
			if !ok {
				continue
			}
			key := s.addr + " " + strconv.Itoa(s.port)
			if seen[key] {
				continue // one socket shared by forked workers
			}
			seen[key] = true
			out = append(out, Port{Port: s.port, Address: s.addr, Process: commName(pid), PID: pid})
		}
	}
	slices.SortFunc(out, func(a, b Port) int {
		if a.Port != b.Port {
			return a.Port - b.Port
		}
		return strings.Compare(a.Address, b.Address)
	})
	return out, nil
}

// socketInodes adds the inodes of pid's open sockets to owner (keeping the
// first owner seen). It reports whether pid's descriptors could be read.
func socketInodes(pid int, owner map[uint64]int) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd/"
	d, err := os.Open(dir)
	if err != nil {
		return false
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	for _, n := range names {
		target, err := os.Readlink(dir + n)
		if err != nil {
			continue
		}
		s, ok := strings.CutPrefix(target, "socket:[")
		if !ok {
			continue
		}
		ino, err := strconv.ParseUint(strings.TrimSuffix(s, "]"), 10, 64)
		if err != nil {
			continue
		}
		if _, dup := owner[ino]; !dup {
			owner[ino] = pid
		}
	}
	return true
}

type socket struct {
	addr  string
	port  int
	inode uint64
}

const stateListen = "0A"

// readTable parses /proc/net/tcp or tcp6, keeping listening sockets.
func readTable(path string) ([]socket, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []socket
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Scan() // header
	for sc.Scan() {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		f := strings.Fields(sc.Text())
		if len(f) < 10 || f[3] != stateListen {
			continue
		}
		host, port, ok := strings.Cut(f[1], ":")
		if !ok {
			continue
		}
		ip, err := parseHexIP(host)
		if err != nil {
			continue
		}
		p, err := strconv.ParseUint(port, 16, 16)
		if err != nil {
			continue
		}
		ino, err := strconv.ParseUint(f[9], 10, 64)
		if err != nil || ino == 0 {
			continue
		}
		out = append(out, socket{addr: ip.String(), port: int(p), inode: ino})
	}
	return out, sc.Err()
}

// parseHexIP decodes the kernel's address: 32-bit words in host byte order
// (little-endian on every machine codeterm runs on).
func parseHexIP(s string) (net.IP, error) {
	b, err := hex.DecodeString(s)
	if err != nil || (len(b) != 4 && len(b) != 16) {
		return nil, fmt.Errorf("bad address %q", s)
	}
	for i := 0; i < len(b); i += 4 {
		b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	ip := net.IP(b)
	if v4 := ip.To4(); v4 != nil && len(b) == 16 && !ip.IsUnspecified() {
		return v4, nil // ::ffff:a.b.c.d
	}
	return ip, nil
}

func commName(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
