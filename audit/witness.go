package audit

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/keyward/keyward"
)

// Witness is the copy of the latest checkpoint kept outside the database: a
// file in the data dir holding the checkpoint note. Someone who can write
// only the database cannot roll it back, so the store is checked against it
// at every start (Log.CheckWitness).
type Witness struct {
	path string
}

// NewWitness returns the witness kept at path.
func NewWitness(path string) *Witness { return &Witness{path: path} }

// Path returns the file's path.
func (w *Witness) Path() string { return w.path }

// Read returns the witnessed checkpoint, verified against cv; nil when there
// is no witness file yet.
func (w *Witness) Read(cv *CheckpointVerifier) (*keyward.AuditCheckpoint, error) {
	b, err := os.ReadFile(w.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("audit witness: %w", err)
	}
	c, err := cv.Open(b)
	if err != nil {
		return nil, fmt.Errorf("audit witness %s: %w", w.path, err)
	}
	return c, nil
}

// Write replaces the witness with c; the new file appears whole (temp file,
// fsync, rename, fsync of the directory) or not at all.
func (w *Witness) Write(c *keyward.AuditCheckpoint) error {
	tmp := w.path + ".tmp"
	_ = os.Remove(tmp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("audit witness: %w", err)
	}
	_, err = f.WriteString(c.Note)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, w.path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("audit witness: %w", err)
	}
	if d, err := os.Open(filepath.Dir(w.path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
