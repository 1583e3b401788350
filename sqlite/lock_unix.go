//go:build unix

package sqlite

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// lockDatabase takes this process's exclusive hold on the database at path,
// through a lock file beside it (path + "-lock", mode 0600), for as long
// as the returned Closer is open. The store keeps key values unique in
// memory (sqlstore/digests.go): a second process writing the same file
// would not see them, so it may not open it. The lock is flock(2), which
// the kernel drops when the process ends, however it ends; SQLite's own
// locks are fcntl(2) locks, which it does not touch.
func lockDatabase(path string) (io.Closer, error) {
	// The lock is the database's, not the name's: a symbolic link to the
	// file is the same database.
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	f, err := os.OpenFile(path+"-lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: lock database: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("sqlite: %s is open in another keyward process; stop it first", path)
		}
		return nil, fmt.Errorf("sqlite: lock database: %w", err)
	}
	return &heldLock{f: f}, nil
}

// heldLock releases the lock on its first Close; closing twice is
// harmless, as for the rest of the DB.
type heldLock struct {
	f    *os.File
	once sync.Once
	err  error
}

func (l *heldLock) Close() error {
	l.once.Do(func() { l.err = l.f.Close() })
	return l.err
}
