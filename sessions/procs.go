package sessions

import (
	"bytes"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Process is one process running in a session.
type Process struct {
	PID     int
	Command string // the command line, or the name in brackets if it has none
}

// procEntry is what /proc/PID/stat tells about one process.
type procEntry struct {
	pid, ppid, sid int
}

// readProcs lists every process visible in /proc. Processes come and go
// while we read; the ones that vanish are skipped.
func readProcs() []procEntry {
	d, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	out := make([]procEntry, 0, len(names))
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		if e, ok := readStat(pid); ok {
			out = append(out, e)
		}
	}
	return out
}

// readStat parses /proc/PID/stat. The command name (field 2) may hold spaces
// and parentheses, so the fields are counted from the last ')'.
func readStat(pid int) (procEntry, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procEntry{}, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procEntry{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0]=state f[1]=ppid f[2]=pgrp f[3]=session
	if len(f) < 4 {
		return procEntry{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	sid, _ := strconv.Atoi(f[3])
	return procEntry{pid: pid, ppid: ppid, sid: sid}, true
}

// descendants returns the pids below root, in pid order.
func descendants(procs []procEntry, root int) []int {
	children := map[int][]int{}
	for _, p := range procs {
		children[p.ppid] = append(children[p.ppid], p.pid)
	}
	var out []int
	stack := []int{root}
	for len(stack) > 0 {
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, c := range children[p] {
			out = append(out, c)
			stack = append(stack, c)
		}
	}
	sort.Ints(out)
	return out
}

// sessionMembers returns every process whose session id is sid: what a
// forced kill must reach, including jobs that left the shell's group.
func sessionMembers(sid int) []int {
	var out []int
	for _, p := range readProcs() {
		if p.sid == sid {
			out = append(out, p.pid)
		}
	}
	return out
}

// commandOf returns a process's command line.
func commandOf(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err == nil && len(b) > 0 {
		return strings.TrimSpace(string(bytes.ReplaceAll(bytes.TrimRight(b, "\x00"), []byte{0}, []byte{' '})))
	}
	c, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return ""
	}
	return "[" + strings.TrimSpace(string(c)) + "]"
}
