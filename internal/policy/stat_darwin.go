package policy

import (
	"io/fs"
	"syscall"
)

// fileID identifies a version of a file cheaply, from one stat.
type fileID struct {
	size  int64
	mtime int64
	mode  fs.FileMode
	dev   uint64
	ino   uint64
	ctime int64
}

func idOf(fi fs.FileInfo) fileID {
	id := fileID{size: fi.Size(), mtime: fi.ModTime().UnixNano(), mode: fi.Mode()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.dev = uint64(st.Dev)
		id.ino = st.Ino
		id.ctime = st.Ctimespec.Nano()
	}
	return id
}
