// Command handshake measures full TLS handshakes per second against an
// HTTPS URL: each request on a new TCP connection with a new TLS session
// (no session cache, so nothing is resumed; it checks), from -c workers for
// -d. wrk cannot do this: it resumes sessions on reconnect when the server
// offers tickets, which Go's TLS does by default and nginx can too.
package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	target := flag.String("url", "", "https URL to GET")
	conns := flag.Int("c", 16, "concurrent workers")
	dur := flag.Duration("d", 10*time.Second, "duration")
	caFile := flag.String("ca", "", "PEM CA file")
	header := flag.String("H", "", `one request header "Name: value"`)
	classic := flag.Bool("classic", false, "offer only X25519 and P-256 key exchange, not Go's default post-quantum X25519MLKEM768 (what OpenSSL 3.0 servers such as Debian's nginx speak anyway)")
	flag.Parse()
	u, err := url.Parse(*target)
	if err != nil || u.Scheme != "https" {
		fail("-url must be https")
	}
	pem, err := os.ReadFile(*caFile)
	if err != nil {
		fail(err.Error())
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		fail("no certificate in -ca")
	}
	host, _, _ := net.SplitHostPort(u.Host)
	req := "GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\nConnection: close\r\n"
	if *header != "" {
		req += *header + "\r\n"
	}
	req += "\r\n"

	var ok, bad, resumed atomic.Int64
	deadline := time.Now().Add(*dur)
	var wg sync.WaitGroup
	for range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				// A new config each time: no ClientSessionCache, no resumption.
				cfg := &tls.Config{RootCAs: pool, ServerName: host, NextProtos: []string{"http/1.1"}}
				if *classic {
					cfg.CurvePreferences = []tls.CurveID{tls.X25519, tls.CurveP256}
				}
				c, err := tls.Dial("tcp", u.Host, cfg)
				if err != nil {
					bad.Add(1)
					continue
				}
				if c.ConnectionState().DidResume {
					resumed.Add(1)
				}
				if _, err := c.Write([]byte(req)); err != nil {
					bad.Add(1)
					c.Close()
					continue
				}
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err == nil {
					_, err = bufio.NewReader(resp.Body).WriteTo(discard{})
					resp.Body.Close()
				}
				c.Close()
				if err != nil || resp.StatusCode != http.StatusOK {
					bad.Add(1)
					continue
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	fmt.Printf("handshakes/s %.1f ok %d failed %d resumed %d\n", float64(ok.Load())/dur.Seconds(), ok.Load(), bad.Load(), resumed.Load())
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "handshake:", msg)
	os.Exit(2)
}
