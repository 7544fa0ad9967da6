//go:build !linux

package callers

import "io/fs"

// fileID identifies a version of a file cheaply, from one stat.
type fileID struct {
	size, mtime int64
	mode        fs.FileMode
}

func idOf(fi fs.FileInfo) fileID {
	return fileID{size: fi.Size(), mtime: fi.ModTime().UnixNano(), mode: fi.Mode()}
}
