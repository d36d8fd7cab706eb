package sessions

import "slices"

// PIDs returns the shell and every process started from it: its
// descendants and the members of its session (jobs whose parent exited,
// such as a daemon that forked twice). Empty once the shell is reaped.
func (s *Session) PIDs() []int {
	if s.reaped.Load() {
		return nil
	}
	procs := readProcs()
	out := append([]int{s.pid}, descendants(procs, s.pid)...)
	for _, p := range procs {
		if p.sid == s.pid {
			out = append(out, p.pid)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
