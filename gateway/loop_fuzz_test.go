//go:build linux

package gateway

import (
	"bufio"
	"bytes"
	"testing"

	"github.com/valyala/fasthttp"
)

// FuzzLoopFraming: whatever bytes a client sends, a request the event loop
// takes as whole is the request fasthttp's server reads from the same
// bytes: the same length (so the next request starts at the same byte: no
// smuggling between the loop and a later hand-over), method, URI, headers
// and body.
func FuzzLoopFraming(f *testing.F) {
	for _, s := range []string{
		"GET /a/b/c HTTP/1.1\r\nHost: x\r\nX-Api-Key: k\r\n\r\n",
		"POST /a/b/c HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\n\r\n",
		"POST /a/b/c HTTP/1.1\nHost: x\nContent-Length: 2\n\nhi",
		"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
		"POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\nhello",
		"POST / HTTP/1.1\r\nContent-Length: 0005\r\n\r\nhello",
		"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
		"POST / HTTP/1.1\r\nX-Folded: a\r\n b\r\nContent-Length: 1\r\n\r\nz",
		"POST / HTTP/1.1\r\nContent-Length : 3\r\n\r\nabc",
		"POST / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.1\r\n\n\r\n",
		"GET / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
		"GET http://evil/x HTTP/1.1\r\nHost: x\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var req fasthttp.Request
		var rd bytes.Reader
		br := bufio.NewReaderSize(nil, loopHeaderMax)
		total, fr := frameRequest(&req, in, 1<<20, &rd, br)
		if fr != frameWhole {
			return
		}
		var ref fasthttp.Request
		rr := bytes.NewReader(in)
		rbr := bufio.NewReaderSize(rr, loopHeaderMax)
		if err := ref.Read(rbr); err != nil {
			t.Fatalf("the loop took %q (%d bytes); fasthttp refuses it: %v", in, total, err)
		}
		if consumed := len(in) - rr.Len() - rbr.Buffered(); consumed != total {
			t.Fatalf("%q: the loop's request is %d bytes, fasthttp's %d", in, total, consumed)
		}
		if !bytes.Equal(req.Body(), ref.Body()) {
			t.Fatalf("%q: bodies %q and %q", in, req.Body(), ref.Body())
		}
		if !bytes.Equal(req.Header.Method(), ref.Header.Method()) || !bytes.Equal(req.Header.RequestURI(), ref.Header.RequestURI()) {
			t.Fatalf("%q: %s %s against %s %s", in, req.Header.Method(), req.Header.RequestURI(), ref.Header.Method(), ref.Header.RequestURI())
		}
		for k, v := range ref.Header.All() {
			if got := req.Header.PeekBytes(k); !bytes.Equal(got, v) && len(ref.Header.PeekAll(string(k))) == 1 {
				t.Fatalf("%q: header %s is %q for the loop, %q for fasthttp", in, k, got, v)
			}
		}
	})
}
