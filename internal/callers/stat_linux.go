package callers

import (
	"io/fs"
	"syscall"
)

// fileID identifies a version of a file cheaply, from one stat: a rename
// over it changes the inode, an edit in place the size, mtime or ctime.
type fileID struct {
	size, mtime, ctime int64
	dev, ino           uint64
	mode               fs.FileMode
}

func idOf(fi fs.FileInfo) fileID {
	id := fileID{size: fi.Size(), mtime: fi.ModTime().UnixNano(), mode: fi.Mode()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.dev = uint64(st.Dev)
		id.ino = st.Ino
		id.ctime = st.Ctim.Nano()
	}
	return id
}
