//go:build unix

package policy

import (
	"io/fs"
	"syscall"
)

// fileID identifies a version of a file cheaply, from one stat: a rename
// over it changes the inode, an edit in place the size or the modification
// time (nanoseconds).
type fileID struct {
	size  int64
	mtime int64
	mode  fs.FileMode
	dev   uint64
	ino   uint64
}

func idOf(fi fs.FileInfo) fileID {
	id := fileID{size: fi.Size(), mtime: fi.ModTime().UnixNano(), mode: fi.Mode()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.dev = uint64(st.Dev) // int32 on some platforms
		id.ino = uint64(st.Ino) // uint32 on some platforms
	}
	return id
}
