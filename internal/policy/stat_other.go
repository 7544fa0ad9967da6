//go:build !unix

package policy

import "io/fs"

// fileID identifies a version of a file cheaply, from one stat. On this
// platform only size, modification time and mode are compared.
type fileID struct {
	size  int64
	mtime int64
	mode  fs.FileMode
}

func idOf(fi fs.FileInfo) fileID {
	return fileID{size: fi.Size(), mtime: fi.ModTime().UnixNano(), mode: fi.Mode()}
}
