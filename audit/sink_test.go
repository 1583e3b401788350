package audit_test

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/keyward/keyward/audit"
)

func TestJSONLSink(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	recs := chain(t, 6)

	s, err := audit.OpenJSONLSink(path, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context(), testSigner.Verifier(), 0, nil); err != nil {
		t.Fatal(err)
	}
	for _, r := range recs[:3] {
		if err := s.Write(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.WriteCheckpoint(t.Context(), checkpoint(t, recs[:3])); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("sink file mode %04o, want 0600", fi.Mode().Perm())
	}

	// Reopening appends.
	s, err = audit.OpenJSONLSink(path, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs[3:] {
		if err := s.Write(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.WriteCheckpoint(t.Context(), checkpoint(t, recs)); err != nil {
		t.Fatal(err)
	}
	s.Close()

	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := audit.VerifyJSONL(f, audit.FileOptions{Pinned: testSigner.Verifier()})
	if err != nil || !res.OK || res.Records != 6 || res.Checkpoints != 2 || res.Verified != 6 {
		t.Errorf("VerifyJSONL of the sink file = %+v, %v", res, err)
	}
}

// TestWriterSinkConcurrent writes from many goroutines: every line must stay
// whole (run with -race).
func TestWriterSinkConcurrent(t *testing.T) {
	var buf bytes.Buffer
	s := audit.NewWriterSink(&buf)
	recs := chain(t, 50)
	var wg sync.WaitGroup
	for _, r := range recs {
		wg.Go(func() {
			if err := s.Write(t.Context(), r); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != len(recs) {
		t.Fatalf("%d lines, want %d", len(lines), len(recs))
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, `{"type":"record","seq":`) || !strings.HasSuffix(l, "}") {
			t.Fatalf("torn line %q", l)
		}
	}
}
