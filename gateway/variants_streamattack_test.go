package gateway_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/server"
)

// Valid but unusual framings of a streamed body, the rest of it arriving
// after the header has been relayed: every transport relays the body
// whole and complete.
func TestStreamAttackUnusualValidFramings(t *testing.T) {
	h := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	cases := map[string][]string{
		"1xx first":            {"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + h + chunk("hello "), chunk("world") + "0\r\n\r\n"},
		"size with spaces":     {h + "6 \t\r\nhello \r\n", "5;a=b \r\nworld\r\n0 \r\n\r\n"},
		"bare LF":              {h + "6\nhello \n", "5\nworld\n0\n\n"},
		"leading zeros":        {h + "0006\r\nhello \r\n", "00005\r\nworld\r\n000\r\n\r\n"},
		"split everywhere":     {h + "6", "\r", "\nhel", "lo ", "\r", "\n5;x", "=1\r\nworld\r\n0", "\r\nT: 1\r", "\n", "\r\n"},
		"empty chunk line ext": {h + "6;" + strings.Repeat("e", 4000) + "\r\nhello \r\n", "5\r\nworld\r\n0\r\n\r\n"},
		"both te and cl":       {"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk("hello "), chunk("world") + "0\r\n\r\n"},
	}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) {
			var res [2]string
			for i, goroutines := range []bool{true, false} {
				e := newEnv(t, func(c *server.Config) { c.GatewayGoroutines = goroutines })
				a := e.api("plain", false)
				_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a)})
				e.up.set(hijacked(raw...))
				status, body, err := saGet(t, e, value, "/plain/prod/x")
				res[i] = fmt.Sprintf("%d %q %v", status, body, err)
				if status != 200 || body != "hello world" || err != nil {
					t.Errorf("goroutines=%v: %s", goroutines, res[i])
				}
			}
			if res[0] != res[1] {
				t.Errorf("transports differ: goroutines %s; loop %s", res[0], res[1])
			}
		})
	}
}
