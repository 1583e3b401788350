package keyvalue_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/keyward/keyward/keyvalue"
)

func TestValidImported(t *testing.T) {
	tests := []struct {
		name string
		v    string
		ok   bool
	}{
		{"typical vendor key", "sk-live-4f9a0c2e7b1d8e3f6a5c", true},
		{"exactly 20", strings.Repeat("A", 20), true},
		{"exactly 256", strings.Repeat("~", 256), true},
		{"valid keyward value", katValue, true},
		{"19 bytes", strings.Repeat("A", 19), false},
		{"257 bytes", strings.Repeat("A", 257), false},
		{"empty", "", false},
		{"space", "sk-live-4f9a0c2e 7b1d8e3f6a5c", false},
		{"tab", "sk-live-4f9a0c2e\t7b1d8e3f6a5c", false},
		{"trailing newline", "sk-live-4f9a0c2e7b1d8e3f6a5c\n", false},
		{"NUL", "sk-live-4f9a0c2e\x007b1d8e3f6a5c", false},
		{"DEL", "sk-live-4f9a0c2e\x7f7b1d8e3f6a5c", false},
		{"non-ASCII", "sk-live-4f9a0c2eé7b1d8e3f6a5c", false},
		{"keyward shape, bad checksum", katValue[:40] + "0", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := keyvalue.ValidImported(tt.v)
			if (err == nil) != tt.ok {
				t.Fatalf("ValidImported = %v, want ok=%v", err, tt.ok)
			}
			if err == nil {
				return
			}
			if !errors.Is(err, keyvalue.ErrInvalidValue) {
				t.Errorf("error %v does not wrap ErrInvalidValue", err)
			}
			if len(tt.v) > 0 && strings.Contains(err.Error(), tt.v) {
				t.Errorf("error message contains the value")
			}
		})
	}
}
