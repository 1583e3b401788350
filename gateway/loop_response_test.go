//go:build linux

package gateway

import (
	"bufio"
	"bytes"
	"testing"

	"github.com/valyala/fasthttp"
)

// appendResponse writes what fasthttp's Response.Write writes, for every
// kind of answer the loop gives: with and without a body, HEAD, the
// statuses that have none, an upstream's Content-Length kept for HEAD.
func TestAppendResponseWritesAsFasthttpDoes(t *testing.T) {
	cases := []func(r *fasthttp.Response){
		func(r *fasthttp.Response) {
			r.SetBodyString(`{"ok":true}`)
			r.Header.SetContentType("application/json")
		},
		func(r *fasthttp.Response) { r.SetStatusCode(401) },
		func(r *fasthttp.Response) { r.SetStatusCode(204); r.SetBodyString("ignored") },
		func(r *fasthttp.Response) { r.SetStatusCode(304) },
		func(r *fasthttp.Response) { r.SetStatusCode(101) },
		func(r *fasthttp.Response) { r.SkipBody = true; r.Header.SetContentLength(1234) },
		func(r *fasthttp.Response) { r.SkipBody = true; r.SetBodyString("abc") },
		func(r *fasthttp.Response) {
			r.Header.SetConnectionClose()
			r.Header.Set("X-Other", "v")
			r.SetBodyString("x")
		},
		func(r *fasthttp.Response) { r.Header.SetServer("keyward"); r.Header.SetNoDefaultContentType(true) },
	}
	for i, set := range cases {
		var a, b fasthttp.Response
		set(&a)
		set(&b)
		var want bytes.Buffer
		w := bufio.NewWriter(&want)
		if err := a.Write(w); err != nil {
			t.Fatal(err)
		}
		w.Flush()
		var scratch []byte
		for _, prefix := range []string{"", "HTTP/1.1 200 OK\r\n\r\n"} {
			got := appendResponse([]byte(prefix), &b, &scratch)
			if !bytes.Equal(got[len(prefix):], want.Bytes()) || string(got[:len(prefix)]) != prefix {
				t.Errorf("case %d after %q:\n got %q\nwant %q", i, prefix, got[len(prefix):], want.Bytes())
			}
		}
	}
}
