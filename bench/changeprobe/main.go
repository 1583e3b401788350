// Command changeprobe measures how long a key change takes to be enforced
// by the gateway, without process starts in the figure: it disables a key
// through the admin API and polls the gateway with that key, both on kept-
// alive connections, until the gateway refuses it (401); then enables it
// again and waits until it is admitted, -n times. It prints the minimum,
// median and maximum from the start of the admin call to the first
// refusal. The key is enabled first. Its value is read from a file, never
// from argv.
//
//	changeprobe -admin http://127.0.0.1:8291 -token-file data/bootstrap-token \
//	  -gateway http://127.0.0.1:8290/bench/prod/v1/chat/completions -id key_... -key-file k.txt
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/httpapi"
)

func main() {
	admin := flag.String("admin", "", "admin API base URL")
	tokenFile := flag.String("token-file", "", "file holding an admin token")
	gateway := flag.String("gateway", "", "gateway URL the key may call (POST, a chat completion)")
	id := flag.String("id", "", "ID of the key to disable and enable")
	keyFile := flag.String("key-file", "", "file holding the key's value")
	n := flag.Int("n", 20, "changes to measure")
	flag.Parse()
	if err := run(*admin, *tokenFile, *gateway, *id, *keyFile, *n); err != nil {
		fmt.Fprintln(os.Stderr, "changeprobe:", err)
		os.Exit(1)
	}
}

func run(admin, tokenFile, gateway, id, keyFile string, n int) error {
	token, err := os.ReadFile(tokenFile)
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(keyFile)
	if err != nil {
		return err
	}
	key := strings.TrimSpace(string(raw))
	hc := &http.Client{Timeout: 10 * time.Second}
	c := httpapi.NewClient(admin, strings.TrimSpace(string(token)), hc)
	ctx := context.Background()
	status := func() (int, error) {
		req, _ := http.NewRequest("POST", gateway, bytes.NewReader([]byte(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`)))
		req.Header.Set("X-Api-Key", key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	until := func(want int) error {
		deadline := time.Now().Add(5 * time.Second)
		for {
			s, err := status()
			if err != nil {
				return err
			}
			if s == want {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("the gateway answered %d for 5 s, want %d", s, want)
			}
		}
	}
	set := func(enabled bool) error {
		_, err := c.UpdateKey(ctx, id, keyward.KeyUpdate{Enabled: &enabled})
		return err
	}
	if err := set(true); err != nil {
		return err
	}
	if err := until(http.StatusOK); err != nil {
		return fmt.Errorf("before the first change: %w", err)
	}
	var took []time.Duration
	for range n {
		t0 := time.Now()
		if err := set(false); err != nil {
			return err
		}
		if err := until(http.StatusUnauthorized); err != nil {
			return err
		}
		took = append(took, time.Since(t0))
		if err := set(true); err != nil {
			return err
		}
		if err := until(http.StatusOK); err != nil {
			return err
		}
	}
	slices.Sort(took)
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
	fmt.Printf("disable enforced, admin API call to the first refusal (kept-alive connections, %d changes): min %s, median %s, max %s\n",
		n, ms(took[0]), ms(took[len(took)/2]), ms(took[len(took)-1]))
	return nil
}
