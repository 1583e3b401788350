package gateway

import (
	"bufio"
	"bytes"
	"io"
	"net/http/httputil"
	"strings"
	"testing"
)

// readAllIn reads r in reads of at most step bytes.
func readAllIn(r io.Reader, step int) ([]byte, error) {
	var out []byte
	buf := make([]byte, step)
	for {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

func TestBodyReaderFraming(t *testing.T) {
	cases := []struct {
		name, wire string
		length     int
		want       string
		fail       bool
		done       bool
	}{
		{name: "content-length", wire: "hello world", length: 5, want: "hello", done: true},
		{name: "empty", wire: "", length: 0, want: "", done: true},
		{name: "short", wire: "hel", length: 5, want: "hel", fail: true},
		{name: "chunked", wire: "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", length: -1, want: "hello world", done: true},
		{name: "chunked with extensions and trailer", wire: "5;a=b\r\nhello\r\n0;x\r\nTrailer: 1\r\n\r\n", length: -1, want: "hello", done: true},
		{name: "bare LF", wire: "5\nhello\n0\n\n", length: -1, want: "hello", done: true},
		{name: "upper hex", wire: "A\r\n0123456789\r\n0\r\n\r\n", length: -1, want: "0123456789", done: true},
		{name: "bad size", wire: "zz\r\nhello\r\n0\r\n\r\n", length: -1, fail: true},
		{name: "huge size", wire: "fffffffffffffffff\r\n", length: -1, fail: true},
		{name: "missing CRLF after data", wire: "5\r\nhelloX\r\n0\r\n\r\n", length: -1, want: "hello", fail: true},
		{name: "truncated", wire: "5\r\nhel", length: -1, want: "hel", fail: true},
		{name: "until EOF", wire: "all of it", length: -2, want: "all of it", done: true},
	}
	for _, c := range cases {
		for _, step := range []int{1, 3, 64} {
			var b bodyReader
			b.reset(bufio.NewReaderSize(strings.NewReader(c.wire), 16), c.length)
			got, err := readAllIn(&b, step)
			if (err != nil) != c.fail || string(got) != c.want || b.done != c.done {
				t.Errorf("%s (step %d): got %q, %v, done %v", c.name, step, got, err, b.done)
			}
		}
	}
}

// The reader returns what is buffered without waiting for more: a burst of
// chunks arrives in one Read, and a chunk that is still on its way does
// not hold back the ones before it.
func TestBodyReaderHandsOverWhatHasArrived(t *testing.T) {
	pr, pw := io.Pipe()
	var b bodyReader
	b.reset(bufio.NewReader(pr), -1)
	go pw.Write([]byte("3\r\nabc\r\n3\r\ndef\r\n2\r\ngh"))
	buf := make([]byte, 64)
	n, err := b.Read(buf)
	if err != nil || string(buf[:n]) != "abcdefgh" {
		t.Fatalf("first read: %q %v", buf[:n], err)
	}
	go pw.Write([]byte("\r\n0\r\n\r\n"))
	if n, err := b.Read(buf); err != io.EOF || n != 0 {
		t.Fatalf("end: %d %v", n, err)
	}
	if !b.done {
		t.Fatal("not done after the last chunk")
	}
}

// FuzzBodyReader: whatever an upstream sends as a chunked body, the reader
// does not panic, and what it accepts is what net/http's chunked reader
// reads from the same bytes.
func FuzzBodyReader(f *testing.F) {
	for _, s := range []string{
		"5\r\nhello\r\n0\r\n\r\n", "1;ext=1\r\na\r\n0\r\nT: v\r\n\r\n", "0\r\n\r\n",
		"ff\r\n" + strings.Repeat("x", 255) + "\r\n0\r\n\r\n", "5\r\nhel", "-1\r\n", "5\r\nhelloxx0\r\n\r\n",
	} {
		f.Add([]byte(s), uint8(7))
	}
	f.Fuzz(func(t *testing.T, wire []byte, step uint8) {
		// arrivedWhole on a buffer holding all of wire agrees with the reader.
		whole := bufio.NewReaderSize(bytes.NewReader(wire), len(wire)+16)
		whole.Peek(len(wire))
		if size, ok := arrivedWhole(whole); ok {
			var b bodyReader
			b.reset(whole, -1)
			got, err := readAllIn(&b, 64)
			if err != nil || !b.done || len(got) != size {
				t.Fatalf("arrivedWhole says %d bytes; the reader got %d, %v, done %v", size, len(got), err, b.done)
			}
		}
		var b bodyReader
		b.reset(bufio.NewReaderSize(bytes.NewReader(wire), 16), -1)
		got, err := readAllIn(&b, int(step)%32+1)
		if err != nil || !b.done {
			return
		}
		ref, rerr := io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(wire)))
		if rerr != nil {
			return // the reference is stricter in places (spaces in a size line); both refusing garbage is what matters
		}
		if !bytes.Equal(got, ref) {
			t.Fatalf("decoded %q, net/http decodes %q", got, ref)
		}
	})
}
