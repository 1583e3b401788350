package gateway

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/keyvalue"
)

func testDigest(i int) keyvalue.Digest {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(i))
	return sha256.Sum256(b[:])
}

func testKey(i int, creds ...int) *keyward.APIKey {
	id := fmt.Sprintf("key_%08d", i)
	k := &keyward.APIKey{ID: id, Enabled: true}
	for j, c := range creds {
		d := testDigest(c)
		label := keyward.LabelCurrent
		if j > 0 {
			label = keyward.LabelPrevious
		}
		k.Credentials = append(k.Credentials, keyward.Credential{ID: fmt.Sprintf("cred_%d", c), KeyID: id, Label: label, Digest: d[:]})
	}
	return k
}

// The key table against a plain map model, through random puts (new keys,
// rotations, disables), removals and sweeps: every digest and ID finds
// what the model says, including after the open-addressed tables grow
// and entries shift back on deletion.
func TestKeyTableAgainstAModel(t *testing.T) {
	kt := newKeyTable()
	r := rand.New(rand.NewPCG(1, 2))
	type state struct {
		enabled bool
		creds   []int
	}
	model := map[int]*state{} // key number -> state
	owner := map[int]int{}    // credential -> key number
	next := 0
	put := func(i int, st *state) {
		if old := model[i]; old != nil {
			for _, c := range old.creds {
				delete(owner, c)
			}
		}
		model[i] = st
		for _, c := range st.creds {
			owner[c] = i
		}
		k := testKey(i, st.creds...)
		k.Enabled = st.enabled
		kt.put(k, 0, nopKey{})
	}
	for step := range 60_000 {
		switch op := r.IntN(10); {
		case op < 5 || len(model) == 0: // new key
			next++
			put(next, &state{enabled: true, creds: []int{next * 10}})
		case op < 7: // rotate: a new current, the old one previous
			i := r.IntN(next) + 1
			if st := model[i]; st != nil {
				c := st.creds[0] + 1
				put(i, &state{enabled: st.enabled, creds: []int{c, st.creds[0]}})
			}
		case op < 8: // disable
			i := r.IntN(next) + 1
			if st := model[i]; st != nil {
				put(i, &state{enabled: false, creds: st.creds[:1]})
			}
		default: // remove
			i := r.IntN(next) + 1
			st := model[i]
			if got := kt.remove(fmt.Sprintf("key_%08d", i)); got != (st != nil) {
				t.Fatalf("step %d: remove(%d) = %v", step, i, got)
			}
			if st != nil {
				for _, c := range st.creds {
					delete(owner, c)
				}
				delete(model, i)
			}
		}
	}
	keys, creds := kt.len()
	if keys != len(model) || creds != len(owner) {
		t.Fatalf("table holds %d keys, %d credentials; model %d, %d", keys, creds, len(model), len(owner))
	}
	for c := 0; c <= next*10+20; c++ {
		d := testDigest(c)
		var v keyView
		found := kt.lookup(&d, &v)
		i, want := owner[c]
		if found != want {
			t.Fatalf("credential %d: found %v, want %v", c, found, want)
		}
		if found && (v.id != fmt.Sprintf("key_%08d", i) || v.enabled != model[i].enabled) {
			t.Fatalf("credential %d: %+v, want key %d enabled %v", c, v, i, model[i].enabled)
		}
		if found && (v.label == labelCurrent) != (model[i].creds[0] == c) {
			t.Fatalf("credential %d of key %d: label %v", c, i, v.label)
		}
	}
	// A full load that sees only the even keys sweeps out the odd ones.
	kt.beginGen()
	for i, st := range model {
		if i%2 == 0 {
			put(i, st)
		}
	}
	gone := kt.sweep()
	for _, id := range gone {
		var i int
		fmt.Sscanf(id, "key_%d", &i)
		if i%2 == 0 {
			t.Fatalf("sweep removed %s", id)
		}
		delete(model, i)
	}
	for i := range model {
		if i%2 != 0 {
			t.Fatalf("sweep kept key %d", i)
		}
		if !kt.has(fmt.Sprintf("key_%08d", i)) {
			t.Fatalf("key %d lost", i)
		}
	}
}

// An ID string handed out stays what it was after its key is removed and
// its record reused.
func TestKeyTableIDsOutliveKeys(t *testing.T) {
	kt := newKeyTable()
	kt.put(testKey(1, 1), 0, nopKey{})
	d := testDigest(1)
	var v keyView
	if !kt.lookup(&d, &v) {
		t.Fatal("not found")
	}
	kt.remove(v.id)
	kt.put(testKey(2, 2), 0, nopKey{})
	if v.id != "key_00000001" {
		t.Fatalf("a kept ID became %q", v.id)
	}
}

// Expiry and grace times come back as stored.
func TestKeyTableTimes(t *testing.T) {
	kt := newKeyTable()
	k := testKey(1, 1, 2)
	exp := time.Unix(2_000_000_000, 5)
	grace := time.Unix(1_900_000_000, 7)
	k.ExpiresAt, k.Credentials[1].GraceUntil = &exp, &grace
	kt.put(k, 0, nopKey{})
	d := testDigest(2)
	var v keyView
	if !kt.lookup(&d, &v) || v.expires != exp.UnixNano() || v.graceUntil != grace.UnixNano() || v.label != labelPrevious {
		t.Fatalf("%+v", v)
	}
}

// BenchmarkKeyCheck is the gateway's key check against a table of
// $KEYWARD_BENCH_KEYS keys (default 1,000,000): shape and checksum, the
// HMAC digest, the lookup and the copy of what a request needs. It must
// stay under 1 µs with no allocation.
//
//	go test -run '^$' -bench KeyCheck ./gateway/
func BenchmarkKeyCheck(b *testing.B) {
	n := benchKeys(b, 1_000_000)
	hasher, err := keyvalue.NewHasher(make([]byte, 32))
	if err != nil {
		b.Fatal(err)
	}
	kt := newKeyTable()
	values := make([]string, 0, 1024)
	for i := range n {
		v, err := keyvalue.Generate("kw")
		if err != nil {
			b.Fatal(err)
		}
		if len(values) < cap(values) {
			values = append(values, v)
		}
		d := hasher.Digest(v)
		k := testKey(i)
		k.Credentials = []keyward.Credential{{Label: keyward.LabelCurrent, Digest: d[:]}}
		kt.put(k, 0, nopKey{})
	}
	var v keyView
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		d, res := hasher.Screen(values[i%len(values)])
		if res != keyvalue.OK || !kt.lookup(&d, &v) {
			b.Fatal("not found")
		}
		i++
	}
	b.ReportMetric(float64(n), "keys")
}

// benchKeys is $KEYWARD_BENCH_KEYS, or def.
func benchKeys(b *testing.B, def int) int {
	if s := os.Getenv("KEYWARD_BENCH_KEYS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatal(err)
		}
		return n
	}
	return def
}

// Lookups racing with puts, removals and the growth of every array never
// see a credential under another key's ID (run under -race in CI).
func TestKeyTableConcurrentLookups(t *testing.T) {
	kt := newKeyTable()
	for i := range 1000 {
		kt.put(testKey(i, i), 0, nopKey{})
	}
	done := make(chan struct{})
	errs := make(chan string, 1)
	go func() {
		defer close(errs)
		var v keyView
		for n := 0; ; n++ {
			select {
			case <-done:
				return
			default:
			}
			c := n % 1000
			d := testDigest(c)
			if kt.lookup(&d, &v) && v.id != fmt.Sprintf("key_%08d", c) {
				errs <- fmt.Sprintf("credential %d found under %s", c, v.id)
				return
			}
		}
	}()
	for i := 1000; i < 40_000; i++ {
		kt.put(testKey(i, i), 0, nopKey{})
		if i%3 == 0 {
			kt.remove(fmt.Sprintf("key_%08d", i-500))
		}
	}
	close(done)
	if e, ok := <-errs; ok {
		t.Fatal(e)
	}
}
