package keyring

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestLoadOrCreateSecretFileCreates0600(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pepper")
	b, err := LoadOrCreateSecretFile(path, 48)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Size() != 48 {
		t.Fatalf("created mode %04o size %d, want 0600 and 48", fi.Mode().Perm(), fi.Size())
	}
	if bytes.Equal(b, make([]byte, 48)) {
		t.Fatal("secret is all zeros")
	}
	again, err := LoadOrCreateSecretFile(path, 48)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, again) {
		t.Fatal("second call returned different bytes: the file was recreated")
	}
	onDisk, _ := os.ReadFile(path)
	if !bytes.Equal(b, onDisk) {
		t.Fatal("returned bytes differ from the file")
	}
}

func TestLoadOrCreateSecretFileConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pepper")
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		got [][]byte
	)
	for range 8 {
		wg.Go(func() {
			b, err := LoadOrCreateSecretFile(path, 32)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			got = append(got, b)
			mu.Unlock()
		})
	}
	wg.Wait()
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Fatalf("directory holds %d entries, want only the secret file: temporary files left behind", len(entries))
	}
	for _, b := range got[1:] {
		if !bytes.Equal(b, got[0]) {
			t.Fatal("concurrent callers got different secrets")
		}
	}
}

// writeFile writes b with exactly perm, whatever the umask.
func writeFile(t *testing.T, path string, b []byte, perm fs.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, b, perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil {
		t.Fatal(err)
	}
}

func TestSecretFileRefusals(t *testing.T) {
	secret := bytes.Repeat([]byte("S3CRETBYTES!"), 3)[:32]
	tests := []struct {
		name    string
		content []byte
		perm    fs.FileMode
		want    error
	}{
		{"group and other readable", secret, 0o644, ErrInsecurePermissions},
		{"group readable", secret, 0o640, ErrInsecurePermissions},
		{"other writable", secret, 0o602, ErrInsecurePermissions},
		{"too short", secret[:31], 0o600, ErrWrongSize},
		{"too long", append(secret, 'x'), 0o600, ErrWrongSize},
		{"empty", nil, 0o600, ErrWrongSize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "master.key")
			writeFile(t, path, tt.content, tt.perm)
			_, err := LoadOrCreateSecretFile(path, 32)
			if !errors.Is(err, tt.want) {
				t.Fatalf("LoadOrCreateSecretFile: got %v, want %v", err, tt.want)
			}
			if _, err := OpenFile(path, true); !errors.Is(err, tt.want) {
				t.Fatalf("OpenFile: got %v, want %v", err, tt.want)
			}
			msg := err.Error()
			if strings.Contains(msg, string(secret[:8])) || strings.Contains(msg, hex.EncodeToString(secret[:4])) {
				t.Fatalf("error shows file content: %s", msg)
			}
			// The refused file must be left alone, not replaced.
			if onDisk, _ := os.ReadFile(path); !bytes.Equal(onDisk, tt.content) {
				t.Fatal("refused file was modified")
			}
		})
	}
}

func TestSecretFileOwnerReadOnlyAccepted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	writeFile(t, path, bytes.Repeat([]byte{7}, 32), 0o400)
	if _, err := LoadOrCreateSecretFile(path, 32); err != nil {
		t.Fatalf("0400 file refused: %v", err)
	}
}

func TestSecretFileNotRegular(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadOrCreateSecretFile(dir, 32); err == nil {
		t.Fatal("a directory was accepted as a secret file")
	}
}

func TestSecretFileBadSize(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x")
	for _, n := range []int{0, -1, 1 << 20} {
		if _, err := LoadOrCreateSecretFile(path, n); err == nil {
			t.Errorf("size %d accepted", n)
		}
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("a file was created for an invalid size")
	}
}
