package audit

import (
	"context"
	"fmt"
	"os"
	"time"
)

// lockFile takes the flock, polling so that ctx can end the wait.
func lockFile(ctx context.Context, f *os.File, exclusive bool) error {
	delay := 100 * time.Microsecond
	for {
		ok, err := tryLock(f, exclusive)
		if err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		if ok {
			return nil
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("waiting for the lock: %w", ctx.Err())
		case <-t.C:
		}
		delay = min(2*delay, 10*time.Millisecond)
	}
}

// lockBestEffort takes a shared lock where locks are supported.
func lockBestEffort(f *os.File) error {
	if lockSupported() != nil {
		return nil
	}
	return lockFile(context.Background(), f, false)
}
