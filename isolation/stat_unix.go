package isolation

import (
	"io/fs"
	"syscall"
)

// statUID is the owner of a file, or -1 when unknown.
func statUID(fi fs.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}
