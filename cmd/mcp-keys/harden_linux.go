//go:build linux

package main

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// hardenProcess marks the process non-dumpable (prctl PR_SET_DUMPABLE 0).
// The operator key may arrive in SUPERMEMORY_API_KEY, and os.Unsetenv only
// clears Go's copy: the kernel keeps the original environment block, which
// /proc/<pid>/environ shows. A non-dumpable process's /proc/<pid>/environ,
// mem and maps, and ptrace, are refused to other processes of the same uid
// (only a process with CAP_SYS_PTRACE, i.e. root, gets through), and it
// writes no core dump. It must run before anything reads the key.
func hardenProcess() error {
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_DUMPABLE, 0): %w", err)
	}
	return nil
}
