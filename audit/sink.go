package audit

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/keyward/keyward"
)

// Sink receives audit records after the transaction that stored them has
// committed, to copy them elsewhere (a file, stdout, a SIEM). The store is
// the source of truth: a sink that fails loses nothing there, and the caller
// logs the error rather than failing the call. Implementations are safe for
// concurrent use.
type Sink interface {
	Write(ctx context.Context, r *keyward.AuditRecord) error
}

// CheckpointSink is implemented by sinks that also take checkpoints, so that
// their output can be verified with VerifyJSONL and a trusted key.
type CheckpointSink interface {
	// Start is called once, before the first record: the next record is
	// size+1, the tree of the first size records has the compact range
	// frontier, and cv's key signs the checkpoints. The sink writes the
	// key and frontier lines a verifier of its output starts from.
	Start(ctx context.Context, cv *CheckpointVerifier, size int64, frontier [][]byte) error
	WriteCheckpoint(ctx context.Context, c *keyward.AuditCheckpoint) error
}

var (
	_ Sink           = (*JSONLSink)(nil)
	_ CheckpointSink = (*JSONLSink)(nil)
	_ Sink           = (*WriterSink)(nil)
	_ CheckpointSink = (*WriterSink)(nil)
)

// JSONLSink appends records (and checkpoints) as JSONL lines to a file, in the
// export format. A file that received every record from the first is
// verifiable by VerifyJSONL; one that missed records shows a sequence gap.
type JSONLSink struct {
	mu    sync.Mutex
	f     *os.File
	w     *JSONLWriter
	fsync bool
}

// OpenJSONLSink opens path for appending (O_APPEND|O_CREATE, mode 0600 when
// created). With fsync, every line is synced to disk before Write returns.
func OpenJSONLSink(path string, fsync bool) (*JSONLSink, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: opening JSONL sink: %w", err)
	}
	return &JSONLSink{f: f, w: NewJSONLWriter(f), fsync: fsync}, nil
}

// Write appends r as one line.
func (s *JSONLSink) Write(ctx context.Context, r *keyward.AuditRecord) error {
	return s.write(func() error { return s.w.WriteRecord(r) })
}

// Start writes the key and frontier lines.
func (s *JSONLSink) Start(ctx context.Context, cv *CheckpointVerifier, size int64, frontier [][]byte) error {
	return s.write(func() error { return start(s.w, cv, size, frontier) })
}

func start(w *JSONLWriter, cv *CheckpointVerifier, size int64, frontier [][]byte) error {
	if err := w.WriteKey(cv); err != nil {
		return err
	}
	if size == 0 {
		return nil
	}
	return w.WriteFrontier(size, frontier)
}

// WriteCheckpoint appends c as one line.
func (s *JSONLSink) WriteCheckpoint(ctx context.Context, c *keyward.AuditCheckpoint) error {
	return s.write(func() error { return s.w.WriteCheckpoint(c) })
}

func (s *JSONLSink) write(fn func() error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := fn(); err != nil {
		return fmt.Errorf("audit: JSONL sink: %w", err)
	}
	if s.fsync {
		if err := s.f.Sync(); err != nil {
			return fmt.Errorf("audit: JSONL sink: %w", err)
		}
	}
	return nil
}

// Close closes the file.
func (s *JSONLSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f.Close()
}

// WriterSink writes records (and checkpoints) as JSONL lines to a writer,
// typically os.Stdout for a log collector.
type WriterSink struct {
	mu sync.Mutex
	w  *JSONLWriter
}

// NewWriterSink returns a WriterSink on w.
func NewWriterSink(w io.Writer) *WriterSink { return &WriterSink{w: NewJSONLWriter(w)} }

// Write writes r as one line.
func (s *WriterSink) Write(ctx context.Context, r *keyward.AuditRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.WriteRecord(r)
}

// Start writes the key and frontier lines.
func (s *WriterSink) Start(ctx context.Context, cv *CheckpointVerifier, size int64, frontier [][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return start(s.w, cv, size, frontier)
}

// WriteCheckpoint writes c as one line.
func (s *WriterSink) WriteCheckpoint(ctx context.Context, c *keyward.AuditCheckpoint) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.WriteCheckpoint(c)
}
