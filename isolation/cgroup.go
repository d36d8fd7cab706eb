package isolation

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Limits are the per-user resource limits (limits.memory, limits.pids);
// zero fields are unlimited.
type Limits struct {
	Memory int64 // bytes
	Pids   int
}

// cgroups places the processes of each user in a cgroup of their own under
// the server's cgroup: with cgroup v2 one directory per user, with v1 one per
// user in the pids and memory hierarchies. When the hierarchy is not
// writable it logs that once and limits nothing.
type cgroups struct {
	limits Limits
	name   string // directory under the server's cgroup, per data dir
	log    *slog.Logger

	mu     sync.Mutex
	users  map[string]*cgroup
	failed bool
}

// cgroup is one user's cgroup: directories to add pids to, and for v2 an
// open directory for clone-time placement.
type cgroup struct {
	dirs  []string // the user's, one per hierarchy
	homes []string // the server's own, in the same order (v1)
	v2    *os.File
}

const cgroupRoot = "/sys/fs/cgroup"

func (c *cgroups) forUser(name string) *cgroup {
	if c == nil || (c.limits.Memory <= 0 && c.limits.Pids <= 0) {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failed {
		return nil
	}
	if cg, ok := c.users[name]; ok {
		return cg
	}
	cg, err := c.create(name)
	if err != nil {
		c.failed = true
		c.log.Warn("resource limits off: cgroups are not writable", "err", err)
		return nil
	}
	if c.users == nil {
		c.users = map[string]*cgroup{}
	}
	c.users[name] = cg
	return cg
}

func (c *cgroups) create(user string) (*cgroup, error) {
	if dir, ok := v2Base(); ok {
		return c.createV2(dir, user)
	}
	return c.createV1(user)
}

// v2Base finds a cgroup v2 hierarchy that offers the pids or memory
// controller, and the server's own cgroup in it.
func v2Base() (string, bool) {
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", false
	}
	var rel string
	found := false
	for _, line := range strings.Split(string(self), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			rel, found = p, true
		}
	}
	if !found {
		return "", false
	}
	for _, mnt := range []string{cgroupRoot, filepath.Join(cgroupRoot, "unified")} {
		ctl, err := os.ReadFile(filepath.Join(mnt, "cgroup.controllers"))
		if err != nil {
			continue
		}
		f := strings.Fields(string(ctl))
		if contains(f, "pids") || contains(f, "memory") {
			return filepath.Join(mnt, rel), true
		}
	}
	return "", false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (c *cgroups) createV2(base, user string) (*cgroup, error) {
	parent := filepath.Join(base, c.name)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, err
	}
	// Controllers reach a child only when every ancestor delegates them.
	for _, d := range []string{base, parent} {
		if err := os.WriteFile(filepath.Join(d, "cgroup.subtree_control"), []byte("+pids +memory"), 0); err != nil {
			return nil, fmt.Errorf("enable controllers in %s: %w", d, err)
		}
	}
	dir := filepath.Join(parent, user)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if c.limits.Pids > 0 {
		if err := writeValue(dir, "pids.max", strconv.Itoa(c.limits.Pids)); err != nil {
			return nil, err
		}
	}
	if c.limits.Memory > 0 {
		if err := writeValue(dir, "memory.max", strconv.FormatInt(c.limits.Memory, 10)); err != nil {
			return nil, err
		}
	}
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	return &cgroup{dirs: []string{dir}, v2: f}, nil
}

func (c *cgroups) createV1(user string) (*cgroup, error) {
	cg := &cgroup{}
	self, _ := os.ReadFile("/proc/self/cgroup")
	own := map[string]string{}
	for _, line := range strings.Split(string(self), "\n") {
		if f := strings.SplitN(line, ":", 3); len(f) == 3 {
			for _, ctl := range strings.Split(f[1], ",") {
				own[ctl] = f[2]
			}
		}
	}
	type setting struct{ ctl, file, value string }
	var want []setting
	if c.limits.Pids > 0 {
		want = append(want, setting{"pids", "pids.max", strconv.Itoa(c.limits.Pids)})
	}
	if c.limits.Memory > 0 {
		want = append(want, setting{"memory", "memory.limit_in_bytes", strconv.FormatInt(c.limits.Memory, 10)})
	}
	for _, s := range want {
		home := filepath.Join(cgroupRoot, s.ctl, own[s.ctl])
		dir := filepath.Join(home, c.name, user)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		if err := writeValue(dir, s.file, s.value); err != nil {
			return nil, err
		}
		cg.dirs = append(cg.dirs, dir)
		cg.homes = append(cg.homes, home)
	}
	if len(cg.dirs) == 0 {
		return nil, errors.New("no cgroup controller")
	}
	return cg, nil
}

func writeValue(dir, file, value string) error {
	if err := os.WriteFile(filepath.Join(dir, file), []byte(value), 0); err != nil {
		return fmt.Errorf("cgroup %s: %w", filepath.Join(dir, file), err)
	}
	return nil
}

// v2FD is the directory to clone a child into, with cgroup v2.
func (cg *cgroup) v2FD() (int, bool) {
	if cg == nil || cg.v2 == nil {
		return 0, false
	}
	return int(cg.v2.Fd()), true
}

// enter moves thread tid of the server into the user's cgroups (v1).
func (cg *cgroup) enter(tid int) error {
	for _, d := range cg.dirs {
		if err := writeValue(d, "tasks", strconv.Itoa(tid)); err != nil {
			return err
		}
	}
	return nil
}

// leave moves thread tid back into the server's own cgroups.
func (cg *cgroup) leave(tid int) error {
	var errs []error
	for _, d := range cg.homes {
		errs = append(errs, writeValue(d, "tasks", strconv.Itoa(tid)))
	}
	return errors.Join(errs...)
}

// remove deletes the user's cgroup directories; they must be empty.
func (cg *cgroup) remove() {
	if cg == nil {
		return
	}
	if cg.v2 != nil {
		cg.v2.Close()
	}
	for _, d := range cg.dirs {
		os.Remove(d)
	}
}
