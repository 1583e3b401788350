//go:build !unix

package sqlite

import "io"

// lockDatabase does nothing where there is no flock(2): there, running two
// keyward processes on one database file is for the operator to avoid.
func lockDatabase(string) (io.Closer, error) { return nopCloser{}, nil }

type nopCloser struct{}

func (nopCloser) Close() error { return nil }
