// Command rotation loads a keyward gateway while the key it uses is rotated
// on a schedule, and counts the requests that failed. It is the load side
// of bench/rotation.sh.
//
// Setup, through the admin API as a pipeline would: an OpenAI-compatible API
// in front of a mock upstream served by this process, a plan with a
// throttle and a quota (high enough never to refuse), and a key whose value
// lives in a keyward secret. Then, for -duration, -conns workers send chat
// completions through the gateway with keep-alive connections, half of them
// with the newest value and half with the one before it (what a consumer
// that has not yet refreshed holds), while a rotator rotates the key every
// -every with -grace and reads the new value from the secret, as the
// consumer would.
//
// A value is handed to the workers only as long as keyward promises it
// works: the newest value, and the one before it until the next rotation
// begins (a rotation ends the grace of the value two back: a key holds at
// most CURRENT, PREVIOUS and PENDING). So every failed request is a broken
// promise, and the command exits 1 if there is any.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/httpapi"
	"github.com/keyward/keyward/mockupstream"
)

func main() {
	admin := flag.String("admin", "http://127.0.0.1:7071", "keyward admin API")
	tokenFile := flag.String("token-file", "", "admin token file")
	gateway := flag.String("gateway", "http://127.0.0.1:7070", "keyward gateway")
	duration := flag.Duration("duration", time.Minute, "how long to load")
	every := flag.Duration("every", time.Second, "rotation interval")
	grace := flag.Duration("grace", 10*time.Second, "grace of the rotated-out value")
	conns := flag.Int("conns", 32, "concurrent connections")
	flag.Parse()
	if err := run(*admin, *tokenFile, *gateway, *duration, *every, *grace, *conns); err != nil {
		fmt.Fprintln(os.Stderr, "rotation:", err)
		os.Exit(1)
	}
}

// values are the key values workers may use: the newest and the one before.
type values struct{ newest, previous string }

func run(admin, tokenFile, gateway string, duration, every, grace time.Duration, conns int) error {
	ctx := context.Background()
	token, err := os.ReadFile(tokenFile)
	if err != nil {
		return err
	}
	c := httpapi.NewClient(admin, strings.TrimSpace(string(token)), nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go http.Serve(ln, mockupstream.Handler())
	if _, err := c.CreateAPI(ctx, keyward.APICreate{Name: "rot", OpenAICompatible: true,
		Stages: []keyward.Stage{{Name: "prod", UpstreamURL: "http://" + ln.Addr().String()}}}); err != nil {
		return err
	}
	plan, err := c.CreatePlan(ctx, keyward.PlanCreate{Name: "rot-plan",
		Throttle:  &keyward.Throttle{RateLimit: 1e6, BurstLimit: 1e6},
		Quota:     &keyward.Quota{Limit: 1e9, Period: keyward.PeriodDay},
		APIStages: []keyward.PlanStage{{APIID: "rot", Stage: "prod"}}})
	if err != nil {
		return err
	}
	ck, err := c.CreateKey(ctx, keyward.KeyCreate{Name: "rotating", StoreSecret: "bench/rotating",
		StageKeys: []keyward.StageKey{{APIID: "rot", Stage: "prod"}}, PlanIDs: []string{plan.ID}})
	if err != nil {
		return err
	}
	first, err := readCurrent(ctx, c)
	if err != nil {
		return err
	}
	var vals atomic.Pointer[values]
	vals.Store(&values{newest: first, previous: first})

	url := strings.TrimSuffix(gateway, "/") + "/rot/prod/v1/chat/completions"
	body := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}],"max_tokens":16}`
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}, Timeout: 10 * time.Second}

	var (
		ok, failed  atomic.Int64
		oldOK       atomic.Int64
		mu          sync.Mutex
		failures    = map[string]int{}
		latencies   []time.Duration
		stop        = make(chan struct{})
		wg          sync.WaitGroup
		rotations   int
		rotationErr error
	)
	for w := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for i := 0; ; i++ {
				select {
				case <-stop:
					mu.Lock()
					latencies = append(latencies, mine...)
					mu.Unlock()
					return
				default:
				}
				v := vals.Load()
				value, old := v.newest, false
				if (w+i)%2 == 1 {
					value, old = v.previous, v.previous != v.newest
				}
				start := time.Now()
				status, err := post(hc, url, value, body)
				mine = append(mine, time.Since(start))
				if err == nil && status == http.StatusOK {
					ok.Add(1)
					if old {
						oldOK.Add(1)
					}
					continue
				}
				failed.Add(1)
				reason := fmt.Sprint(status)
				if err != nil {
					reason = err.Error()
				}
				mu.Lock()
				failures[reason]++
				mu.Unlock()
			}
		}()
	}

	began := time.Now()
	tick := time.NewTicker(every)
	for time.Since(began) < duration {
		<-tick.C
		v := vals.Load()
		// The value two back stops working when this rotation finishes:
		// take it out of use first, and let requests already carrying it
		// finish (they are still valid until then).
		vals.Store(&values{newest: v.newest, previous: v.newest})
		time.Sleep(20 * time.Millisecond)
		g := keyward.Duration(grace)
		if _, err := c.RotateKey(ctx, ck.Key.ID, keyward.KeyRotate{Grace: &g}); err != nil {
			rotationErr = err
			break
		}
		next, err := readCurrent(ctx, c)
		if err != nil {
			rotationErr = err
			break
		}
		vals.Store(&values{newest: next, previous: v.newest})
		rotations++
	}
	tick.Stop()
	close(stop)
	wg.Wait()
	elapsed := time.Since(began)

	slices.Sort(latencies)
	pct := func(p float64) time.Duration {
		if len(latencies) == 0 {
			return 0
		}
		return latencies[int(p*float64(len(latencies)-1))]
	}
	fmt.Printf("duration %s, %d connections, rotation every %s with grace %s\n", elapsed.Round(time.Millisecond), conns, every, grace)
	fmt.Printf("rotations: %d (key ID %s unchanged)\n", rotations, ck.Key.ID)
	fmt.Printf("requests: %d ok (%d of them with the previous value), %d failed; %.0f req/s\n",
		ok.Load(), oldOK.Load(), failed.Load(), float64(ok.Load()+failed.Load())/elapsed.Seconds())
	fmt.Printf("latency: p50 %s, p99 %s, max %s\n", pct(0.5), pct(0.99), pct(1))
	for reason, n := range failures {
		fmt.Printf("  failed: %d × %s\n", n, reason)
	}
	if rotationErr != nil {
		return fmt.Errorf("rotation: %w", rotationErr)
	}
	if failed.Load() > 0 {
		return fmt.Errorf("%d requests failed", failed.Load())
	}
	return nil
}

func readCurrent(ctx context.Context, c *httpapi.Client) (string, error) {
	v, err := c.GetSecretValue(ctx, "bench/rotating", keyward.SecretSelector{Stage: keyward.StageCurrent})
	if err != nil {
		return "", err
	}
	return string(v.Value), nil
}

func post(hc *http.Client, url, value, body string) (int, error) {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+value)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}
