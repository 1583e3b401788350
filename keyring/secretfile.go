package keyring

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// maxSecretFileSize bounds what LoadOrCreateSecretFile will read; key and
// pepper files are tens of bytes.
const maxSecretFileSize = 1 << 16

// LoadOrCreateSecretFile returns the size bytes stored at path, creating the
// file with fresh random bytes if it does not exist. It is used for the
// master key and the pepper. A new file is created 0600 with O_EXCL and
// synced, together with its directory, before the bytes are returned: data
// sealed under a key that a crash could lose would be lost with it.
//
// An existing file must be a regular file with no group or other permission
// bits (ErrInsecurePermissions) and exactly size bytes (ErrWrongSize).
// Errors name the path but never contain the file's bytes.
func LoadOrCreateSecretFile(path string, size int) ([]byte, error) {
	if size <= 0 || size > maxSecretFileSize {
		return nil, fmt.Errorf("keyring: secret file size %d out of range", size)
	}
	b, err := loadSecretFile(path, size)
	if !errors.Is(err, fs.ErrNotExist) {
		return b, err
	}
	b, err = createSecretFile(path, size)
	if errors.Is(err, fs.ErrExist) {
		// Another process created it between our open and our create; it
		// appeared complete, so read it.
		return loadSecretFile(path, size)
	}
	return b, err
}

// loadSecretFile reads an existing secret file after checking it. Checks
// run on the opened descriptor, so the file checked is the file read.
func loadSecretFile(path string, size int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("keyring: %q is not a regular file", path)
	}
	// Windows has no meaningful permission bits; ACLs are the operator's job.
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("%w: %q has mode %04o, readable beyond its owner; run chmod 600 on it", ErrInsecurePermissions, path, perm)
	}
	if fi.Size() != int64(size) {
		return nil, fmt.Errorf("%w: %q holds %d bytes, want %d", ErrWrongSize, path, fi.Size(), size)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, fmt.Errorf("%w: reading %q: %v", ErrWrongSize, path, err)
	}
	return b, nil
}

// createSecretFile writes size random bytes to a new file at path. The
// bytes go to an O_EXCL 0600 temporary file in the same directory, which is
// synced and then hard-linked to path: link(2) fails if path exists, so the
// creation stays exclusive, and a concurrent reader never sees a
// half-written key. Filesystems without hard links fall back to writing path
// directly with O_EXCL.
func createSecretFile(path string, size int) ([]byte, error) {
	b := make([]byte, size)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".keyward-secret-*")
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := writeSynced(tmp, b); err != nil {
		return nil, err
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("keyring: %w", err)
	} else if err != nil {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, fmt.Errorf("keyring: %w", err)
		}
		if err := writeSynced(f, b); err != nil {
			os.Remove(path)
			return nil, err
		}
	}
	if err := syncDir(dir); err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	return b, nil
}

// writeSynced writes b to f, syncs and closes it.
func writeSynced(f *os.File, b []byte) error {
	_, err := f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("keyring: write %q: %w", f.Name(), err)
	}
	return nil
}

// syncDir makes a new directory entry durable. Windows cannot sync a
// directory handle and does not need to.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
