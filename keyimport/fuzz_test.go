package keyimport

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// FuzzReader: any input ends in rows or an error, never a panic; every row
// has a line after the header, and no error message carries a Key cell.
func FuzzReader(f *testing.F) {
	f.Add([]byte("Name,Key,Description,Enabled,UsagePlanIds\nalpha,sk-aaaaaaaaaaaaaaaaaaaaaaaa,d,true,p1;p2\n"))
	f.Add([]byte("key,name\n\"sk-b\"\"quoted\"\"bbbbbbbbbbbbbbb\",x\n"))
	f.Add([]byte("Name,Key\r\nx,sk-cccccccccccccccccccccccc\r\n\r\n"))
	f.Add([]byte("Name,Key,Enabled\nx,sk-dddddddddddddddddddddddd,maybe\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		var keys []string
		for i := 0; i < 10_000; i++ {
			row, err := r.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				for _, k := range keys {
					if len(k) >= 8 && strings.Contains(err.Error(), k) {
						t.Fatalf("error %q holds an earlier row's key", err)
					}
				}
				return
			}
			if row.Line < 2 {
				t.Fatalf("row at line %d", row.Line)
			}
			keys = append(keys, row.Value)
		}
	})
}
