//go:build linux

package gateway_test

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// Answers around the loop's read bounds, from an attack review of them
// (their smuggling cases are in smuggle_test.go): hop-by-hop headers,
// headers near 16 KiB, upstreams that close mid-body, pipelining, and 103
// answers across the bound, on both transports.

// doRaw reads a response's header block as sent, then the response
// through it.
func (rc *rawClient) doRaw(method, path string) (string, *http.Response, string, error) {
	rc.t.Helper()
	fmt.Fprintf(rc.c, "%s /plain/prod%s HTTP/1.1\r\nHost: x\r\nX-Api-Key: %s\r\n\r\n", method, path, rc.value)
	var hb strings.Builder
	for {
		line, err := rc.br.ReadString('\n')
		hb.WriteString(line)
		if err != nil {
			return hb.String(), nil, "", err
		}
		if line == "\r\n" {
			break
		}
	}
	resp, err := http.ReadResponse(bufio.NewReader(io.MultiReader(strings.NewReader(hb.String()), rc.br)), &http.Request{Method: method})
	if err != nil {
		return hb.String(), nil, "", err
	}
	b, err := io.ReadAll(resp.Body)
	return hb.String(), resp, string(b), err
}

// Hop-by-hop headers, in any case, repeated, named by Connection, on
// sized, chunked, large and streamed answers: none reaches the client on
// either transport, and the body is exact.
func TestReadBoundHopHeadersDropped(t *testing.T) {
	hop := "Connection: X-Secret, x-other\r\nX-Secret: s1\r\nX-Other: s2\r\nKeep-Alive: timeout=5\r\nkEEp-aLIVE: max=3\r\n" +
		"Upgrade: h2c\r\nProxy-Connection: keep-alive\r\nProxy-Authenticate: Basic\r\nTe: trailers\r\nTE: gzip\r\nTrailer: X-Usage\r\nX-Keep: yes\r\n"
	chunked := func(s string) string {
		var b strings.Builder
		for len(s) > 0 {
			n := min(len(s), 5000)
			b.WriteString(chunk(s[:n]))
			s = s[n:]
		}
		return b.String() + "0\r\nX-Usage: 1\r\n\r\n"
	}
	cases := []struct {
		name string
		raw  string
		body string
	}{
		{"sized small", "HTTP/1.1 200 OK\r\n" + hop + "Content-Length: 5\r\n\r\nhello", "hello"},
		{"chunked small", "HTTP/1.1 200 OK\r\n" + hop + "Transfer-Encoding: chunked\r\n\r\n" + chunked("hello"), "hello"},
		{"chunked 200 KiB", "HTTP/1.1 200 OK\r\n" + hop + "Transfer-Encoding: chunked\r\n\r\n" + chunked(fill(200<<10)), fill(200 << 10)},
		{"sized 1 MiB", "HTTP/1.1 200 OK\r\n" + hop + fmt.Sprintf("Content-Length: %d\r\n\r\n", 1<<20) + fill(1<<20), fill(1 << 20)},
		{"sized 1 MiB + 1", "HTTP/1.1 200 OK\r\n" + hop + fmt.Sprintf("Content-Length: %d\r\n\r\n", 1<<20+1) + fill(1<<20+1), fill(1<<20 + 1)},
		{"event stream", "HTTP/1.1 200 OK\r\n" + hop + "Content-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked("data: {}\n\n"), "data: {}\n\n"},
	}
	bad := []string{"connection", "x-secret", "x-other", "keep-alive", "upgrade", "proxy-connection", "proxy-authenticate", "te", "trailer"}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			transports(t, func(t *testing.T, goroutines bool) {
				e, value := plainKey(t, goroutines)
				e.up.set(rawByPath(map[string]string{"/a": tc.raw}, nil, nil))
				rc := dialRaw(t, e, value)
				for i := range 2 {
					head, resp, b, err := rc.doRaw("GET", "/a")
					if err != nil || resp.StatusCode != 200 || b != tc.body {
						t.Fatalf("request %d: %v, %d of %d bytes\n%s", i, err, len(b), len(tc.body), head)
					}
					for _, line := range strings.Split(head, "\r\n")[1:] {
						k, _, _ := strings.Cut(line, ":")
						for _, h := range bad {
							if strings.EqualFold(strings.TrimSpace(k), h) {
								t.Errorf("request %d: hop-by-hop %q reached the client\n%s", i, line, head)
							}
						}
					}
					if !strings.Contains(head, "X-Keep: yes") {
						t.Errorf("request %d: X-Keep dropped\n%s", i, head)
					}
				}
			})
		})
	}
}

// Headers around 16 KiB with bodies that take the answer past 80 KiB:
// both transports answer alike (the same status, the same body).
func TestReadBoundHeaderNearSixteenKiB(t *testing.T) {
	type outcome struct {
		status int
		body   string
		err    bool
	}
	for _, total := range []int{16<<10 - 1, 16 << 10, 16<<10 + 1} {
		for _, bodyLen := range []int{64<<10 - 1, 64 << 10, 64<<10 + 1, 1 << 20} {
			t.Run(fmt.Sprintf("head %d body %d", total, bodyLen), func(t *testing.T) {
				start := "HTTP/1.1 200 OK\r\n" + fmt.Sprintf("Content-Length: %d\r\n", bodyLen)
				pad := total - len(start) - len("X-Big: \r\n") - 2
				raw := start + "X-Big: " + fill(pad) + "\r\n\r\n"
				if len(raw) != total {
					t.Fatalf("%d", len(raw))
				}
				raw += fill(bodyLen)
				var got [2]outcome
				transports(t, func(t *testing.T, goroutines bool) {
					e, value := plainKey(t, goroutines)
					e.up.set(rawByPath(map[string]string{"/a": raw}, nil, nil))
					rc := dialRaw(t, e, value)
					_, resp, b, err := rc.doRaw("GET", "/a")
					o := outcome{err: err != nil}
					if resp != nil {
						o.status, o.body = resp.StatusCode, b
					}
					if o.status == 200 && b != fill(bodyLen) {
						t.Errorf("200 with %d bytes of %d", len(b), bodyLen)
					}
					i := 0
					if goroutines {
						i = 1
					}
					got[i] = o
					t.Logf("status %d, %d bytes, err %v", o.status, len(o.body), err)
				})
				if got[0].status != got[1].status || got[0].err != got[1].err || got[0].body != got[1].body {
					t.Errorf("loop: %d (err %v, %d bytes); goroutines: %d (err %v, %d bytes)", got[0].status, got[0].err, len(got[0].body), got[1].status, got[1].err, len(got[1].body))
				}
			})
		}
	}
}

// An upstream that closes part way through a body, around the loop's
// read bounds: both transports end the exchange the same way (a 502 for
// an answer buffered whole, a cut connection for one streamed), and
// neither hangs.
func TestReadBoundUpstreamClosesMidBody(t *testing.T) {
	type outcome struct {
		status int
		n      int
		err    bool
	}
	cases := []struct{ declared, sent int }{
		{80 << 10, 80<<10 - 100},
		{100 << 10, 80<<10 - 60}, // cut where the loop's first read stops
		{1 << 20, 1<<20 - 1},
		{1<<20 + 1, 1 << 20},
		{3 << 20, 2 << 20},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%d of %d", tc.sent, tc.declared), func(t *testing.T) {
			var got [2]outcome
			transports(t, func(t *testing.T, goroutines bool) {
				e, value := plainKey(t, goroutines)
				raw := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", tc.declared) + fill(tc.sent)
				e.up.set(hijacked(raw))
				rc := dialRaw(t, e, value)
				fmt.Fprintf(rc.c, "GET /plain/prod/a HTTP/1.1\r\nHost: x\r\nX-Api-Key: %s\r\n\r\n", value)
				var o outcome
				resp, err := http.ReadResponse(rc.br, nil)
				if err != nil {
					o.err = true
				} else {
					o.status = resp.StatusCode
					b, err := io.ReadAll(resp.Body)
					o.n, o.err = len(b), err != nil
					if err != nil && strings.Contains(err.Error(), "timeout") {
						t.Fatalf("hung: %v", err)
					}
				}
				got[map[bool]int{false: 0, true: 1}[goroutines]] = o
				t.Logf("%+v", o)
			})
			if got[0] != got[1] {
				t.Errorf("loop %+v, goroutines %+v", got[0], got[1])
			}
		})
	}
}

// A client that pipelines requests whose answers lie around the read
// bounds (80 KiB exactly, 1 MiB, 1 MiB + 1, a 103 before 200 KiB, a 204,
// a HEAD with a Content-Length), and reads slowly: every answer arrives
// exact and in order, on both transports.
func TestReadBoundPipelinedAroundTheBounds(t *testing.T) {
	answers := map[string]string{
		"/exact80":   sizedAnswer(loopReadBound),
		"/mib":       sizedAnswer(1<<20 + 38),
		"/mibplus":   fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", 1<<20+1) + fill(1<<20+1),
		"/hint":      "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", 200<<10) + fill(200<<10),
		"/nocontent": "HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n",
		"/head":      "HTTP/1.1 200 OK\r\nContent-Length: 5000000\r\n\r\n",
	}
	want := map[string]int{"/exact80": -1, "/mib": -1, "/mibplus": 1<<20 + 1, "/hint": 200 << 10, "/nocontent": 0, "/head": 0}
	for _, k := range []string{"/exact80", "/mib"} {
		raw := answers[k]
		want[k] = len(raw) - strings.Index(raw, "\r\n\r\n") - 4
	}
	order := []string{"/exact80", "/mib", "/exact80", "/mibplus", "/hint", "/nocontent", "/exact80", "/head", "/mib"}
	transports(t, func(t *testing.T, goroutines bool) {
		e, value := plainKey(t, goroutines)
		e.up.set(rawByPath(answers, nil, nil))
		rc := dialRaw(t, e, value)
		var req strings.Builder
		for _, p := range order {
			m := "GET"
			if p == "/head" {
				m = "HEAD"
			}
			fmt.Fprintf(&req, "%s /plain/prod%s HTTP/1.1\r\nHost: x\r\nX-Api-Key: %s\r\n\r\n", m, p, value)
		}
		go rc.c.Write([]byte(req.String()))
		for i, p := range order {
			m := "GET"
			if p == "/head" {
				m = "HEAD"
			}
			resp, err := http.ReadResponse(rc.br, &http.Request{Method: m})
			if err != nil {
				t.Fatalf("answer %d (%s): %v", i, p, err)
			}
			b, err := io.ReadAll(resp.Body)
			if err != nil || len(b) != want[p] || len(b) > 0 && string(b) != fill(len(b)) {
				t.Fatalf("answer %d (%s): %d, %d bytes of %d, %v", i, p, resp.StatusCode, len(b), want[p], err)
			}
		}
	})
}

// 103 answers filling the first 80 KiB to around the byte, then the
// answer (its header straddling the bound, or starting at it) with a
// body buffered whole, streamed sized, or chunked: exact on both
// transports, twice on one connection.
func TestReadBoundInterimAcrossTheBound(t *testing.T) {
	hint := func(n int) string { // one 103 of n bytes
		h := "HTTP/1.1 103 Early Hints\r\nLink: </"
		tail := ">; rel=preload\r\n\r\n"
		return h + fill(n-len(h)-len(tail)) + tail
	}
	hints := func(total int) string {
		var b strings.Builder
		for total > 0 {
			n := min(total, 4000)
			if total-n < 100 && total-n > 0 {
				n = total - 100
			}
			b.WriteString(hint(n))
			total -= n
		}
		return b.String()
	}
	chunked := func(s string) string {
		var b strings.Builder
		for len(s) > 0 {
			n := min(len(s), 9000)
			b.WriteString(chunk(s[:n]))
			s = s[n:]
		}
		return b.String() + "0\r\n\r\n"
	}
	for _, before := range []int{loopReadBound - 10, loopReadBound - 38, loopReadBound, loopReadBound + 1, 3 * loopReadBound} {
		for _, kind := range []string{"sized 300 KiB", "sized 1 MiB + 1", "chunked 300 KiB", "chunked 2 MiB"} {
			t.Run(fmt.Sprintf("%d/%s", before, kind), func(t *testing.T) {
				var body, raw string
				switch kind {
				case "sized 300 KiB":
					body = fill(300 << 10)
					raw = fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", len(body)) + body
				case "sized 1 MiB + 1":
					body = fill(1<<20 + 1)
					raw = fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", len(body)) + body
				case "chunked 300 KiB":
					body = fill(300 << 10)
					raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(body)
				case "chunked 2 MiB":
					body = fill(2 << 20)
					raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(body)
				}
				raw = hints(before) + raw
				transports(t, func(t *testing.T, goroutines bool) {
					e, value := plainKey(t, goroutines)
					e.up.set(rawByPath(map[string]string{"/a": raw}, nil, nil))
					rc := dialRaw(t, e, value)
					for i := range 2 {
						resp, b := rc.do("GET", "/plain/prod", "/a", "")
						if resp.StatusCode != 200 || b != body {
							t.Fatalf("request %d: %d, %d bytes of %d", i, resp.StatusCode, len(b), len(body))
						}
					}
				})
			})
		}
	}
}
