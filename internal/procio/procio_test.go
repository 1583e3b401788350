package procio

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestWriteBytesCountsASyncedFile(t *testing.T) {
	if runtime.GOOS != "linux" {
		if WriteBytes() != -1 {
			t.Fatal("WriteBytes without /proc/self/io: want -1")
		}
		return
	}
	before := WriteBytes()
	if before < 0 {
		t.Fatal("WriteBytes: /proc/self/io has no write_bytes")
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	// A tmpfs counts nothing; any disk-backed file system counts the MiB.
	if got := WriteBytes() - before; got != 0 && got < 1<<20 {
		t.Fatalf("WriteBytes grew by %d after a synced 1 MiB write, want 0 (tmpfs) or at least 1 MiB", got)
	}
}
