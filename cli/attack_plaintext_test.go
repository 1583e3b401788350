package cli

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestAttackCLISendsTokenInClearOffLoopback: the server refuses plain HTTP
// off loopback because "admin tokens ... would cross the network in
// clear", but the CLI (and so anything built on httpapi.NewClient, the
// Pulumi provider included) sends the bearer token over http:// to any
// host without a word. One typo (http:// for https://, e.g. KEYWARD_ADDR=
// http://keyward.internal:7443 against a TLS server) puts the admin token
// on the wire in clear before the server can answer "HTTP request to an
// HTTPS server". The network is stood in for by an HTTP proxy on loopback
// (HTTP_PROXY), which sees what any on-path observer would.
func TestAttackCLISendsTokenInClearOffLoopback(t *testing.T) {
	if os.Getenv("TLSATTACK_CHILD") == "1" {
		// The child: the CLI as a user runs it.
		var out, errb bytes.Buffer
		code := Main([]string{"keys", "list"}, strings.NewReader(""), &out, &errb)
		os.Stdout.WriteString(errb.String())
		os.Exit(code)
	}
	const token = "kwa_tlsattack0000000000000000000000000000000000"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	seen := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			return
		}
		seen <- req.URL.String() + " Authorization: " + req.Header.Get("Authorization")
		c.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
	}()
	cmd := exec.Command(os.Args[0], "-test.run=^TestAttackCLISendsTokenInClearOffLoopback$")
	cmd.Env = append(os.Environ(), "TLSATTACK_CHILD=1",
		"KEYWARD_ADDR=http://keyward.internal:7443", "KEYWARD_TOKEN="+token,
		"HTTP_PROXY=http://"+ln.Addr().String(), "http_proxy=http://"+ln.Addr().String(), "NO_PROXY=", "no_proxy=")
	out, _ := cmd.CombinedOutput()
	select {
	case got := <-seen:
		if strings.Contains(got, token) {
			t.Errorf("the CLI sent the admin token in clear to a non-loopback host: %s\n(CLI said: %s)", got, out)
		}
	case <-time.After(10 * time.Second):
		t.Logf("nothing sent; CLI said: %s", out)
	}
}
