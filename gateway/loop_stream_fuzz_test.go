//go:build linux

package gateway

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"testing"
)

// FuzzStreamDecoding: the loop decodes a streamed body as its bytes
// arrive, in whatever pieces, stepping the reader only on what it has
// (decodeBuffered). Fed any body in any split, it must never decode what
// the reader given the whole body at once would not: its output is a
// prefix of that reader's, it ends cleanly only where that reader does and
// with the same bytes, and it fails only on bytes that reader refuses too.
func FuzzStreamDecoding(f *testing.F) {
	for _, s := range []string{
		"5\r\nhello\r\n0\r\n\r\n", "1;ext=1\r\na\r\n0\r\nT: v\r\n\r\n", "0\r\n\r\n",
		"ff\r\n" + strings.Repeat("x", 255) + "\r\n0\r\n\r\n", "5\r\nhel", "5\r\nhelloxx0\r\n\r\n",
		"6\r\nhello \r\nzz\r\nworld\r\n0\r\n\r\n", "3\nabc\n0\n\n",
	} {
		f.Add([]byte(s), []byte{3, 1, 7}, int16(-1))
	}
	f.Add([]byte("hello world, sized"), []byte{5}, int16(11))
	f.Add([]byte("until the end"), []byte{2, 2}, int16(-2))
	f.Fuzz(func(t *testing.T, wire, splits []byte, framing int16) {
		n := int(framing)
		if n < -2 {
			n = -1
		}
		var ref bodyReader
		ref.reset(bufio.NewReaderSize(bytes.NewReader(wire), loopHeaderMax), n) // as the upstream connection reads
		want, werr := io.ReadAll(&ref)

		var r bodyReader
		r.reset(nil, n)
		var rd bytes.Reader
		br := bufio.NewReaderSize(nil, loopHeaderMax)
		var have, got []byte
		off := 0
		for i, rest := 0, wire; ; i++ {
			k := len(rest)
			if i < len(splits) {
				k = min(k, int(splits[i]))
			}
			have, rest = append(have, rest[:k]...), rest[k:]
			for {
				var used int
				got, used = decodeBuffered(&r, have[off:], &rd, br, got)
				off += used
				if used == 0 || r.done || r.err != nil {
					break
				}
			}
			if len(rest) == 0 || r.done || r.err != nil {
				break
			}
		}
		if !bytes.HasPrefix(want, got) {
			t.Fatalf("decoded %q; the whole-body reader decodes %q", got, want)
		}
		switch {
		case r.done:
			if !ref.done || !bytes.Equal(got, want) || werr != nil {
				t.Fatalf("ended cleanly with %q; the whole-body reader: %q, done %v, %v", got, want, ref.done, werr)
			}
		case r.err != nil:
			if werr == nil {
				t.Fatalf("failed (%v) on a body the whole-body reader takes: %q", r.err, want)
			}
		case n == -2:
			if !bytes.Equal(got, wire) {
				t.Fatalf("an unsized body decoded to %q", got)
			}
		case ref.done && werr == nil && len(wire)-off < loopHeaderMax:
			// Waiting for more: fine only if what is left cannot be
			// stepped (the loop aborts on the upstream's end).
			t.Fatalf("stopped at %d of %d bytes with %q; the whole-body reader ends with %q", off, len(wire), got, want)
		}
	})
}
