package gateway

import (
	"encoding/binary"
	"hash/maphash"
	"strings"
	"sync"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/offheap"
	"github.com/keyward/keyward/keyvalue"
)

// keyTable holds every key the gateway serves. It lives as long as the
// gateway and is changed in place, one key at a time, under its lock: a
// disable or a rotation costs that key's entries, and a full resync
// updates keys where they are instead of building a second table beside
// the first (which at a million keys would double the memory).
//
// Its records are fixed-size and pointer-free, in arrays outside the Go
// heap (package offheap): about 130 bytes per key with one credential,
// which the collector neither scans nor doubles with its headroom. Two
// open-addressed hash tables of 4-byte slots find a credential by the
// digest of its value and a key by its ID. What keys configured alike
// share (which stages and plans, which scopes) is interned once and named
// by a number.
type keyTable struct {
	mu       sync.RWMutex
	keys     offheap.Array[keyRec]
	creds    offheap.Array[credRec]
	byDigest slotIndex     // credentials by the digest of their value
	byID     slotIndex     // keys by ID
	free     []uint32      // key records to reuse
	freeCred []uint32      // credential records to reuse
	ids      offheap.Arena // key IDs; a string handed out stays valid
	seed     maphash.Seed
	gen      uint32 // the current full load's mark (sweep)
	// filling: a full load into an empty table is under way, so every
	// key it puts is new and so is every digest (the store's keys and
	// digests are unique): put skips looking them up, a third of a first
	// load's work.
	filling bool

	// scopes are read by lookups (under mu); 0 is "no scopes".
	scopes   []scopeSet
	scopesBy map[string]uint32
	// stats holds per-key metric handles when the metrics adapter has
	// them (key labels on); absent keys use nopKey.
	stats map[uint32]KeyMetrics

	// access lists the stage and plan combinations keys name; tables
	// resolve them by index (table.access). Written and read only under
	// the gateway's reloadMu.
	access   []accessSig
	accessBy map[string]uint32
	sigBuf   []byte
}

// keyRec is one key. Pointer-free: it lives outside the heap.
type keyRec struct {
	id      offheap.Ref
	expires int64  // Unix nanoseconds; 0: never
	access  uint32 // keyTable.access / table.access index
	scopes  uint32 // keyTable.scopes index; 0: none
	cred    uint32 // first credential, index+1; 0: none
	gen     uint32
	enabled bool
	live    bool
}

// credRec is one accepted value of a key, by the digest of the value.
type credRec struct {
	digest     keyvalue.Digest
	graceUntil int64  // Unix nanoseconds; 0: none
	key        uint32 // keyRec index
	next       uint32 // the key's next credential, index+1; 0: none
	label      credLabel
}

type credLabel uint8

const (
	labelOther    credLabel = iota // PENDING or anything not accepted
	labelCurrent                   // accepted
	labelPrevious                  // accepted until graceUntil
)

func credLabelOf(l keyward.CredentialLabel) credLabel {
	switch l {
	case keyward.LabelCurrent:
		return labelCurrent
	case keyward.LabelPrevious:
		return labelPrevious
	}
	return labelOther
}

// accessSig is what decides where a key may go and what limits it: the
// stages it names and the plans it is attached to, in order.
type accessSig struct {
	stages []string // "apiID/stage"
	plans  []string
}

// scopeSet is a key's model and route scopes.
type scopeSet struct {
	models []string
	routes []keyward.RoutePattern
}

// keyView is what a request learns of its key: a copy, taken under the
// table's lock, so that later changes do not reach a request in flight.
type keyView struct {
	id         string // in the table's arena: valid for good
	enabled    bool
	expires    int64
	access     uint32
	models     []string
	routes     []keyward.RoutePattern
	scoped     bool // has model scopes
	label      credLabel
	graceUntil int64
	keyStats   KeyMetrics
}

func newKeyTable() *keyTable {
	kt := &keyTable{
		seed:     maphash.MakeSeed(),
		scopes:   []scopeSet{{}},
		scopesBy: map[string]uint32{},
		stats:    map[uint32]KeyMetrics{},
		access:   []accessSig{{}},
		accessBy: map[string]uint32{"|": 0},
	}
	return kt
}

// lookup finds the key holding a credential with digest d and copies
// what a request needs into v.
func (kt *keyTable) lookup(d *keyvalue.Digest, v *keyView) bool {
	kt.mu.RLock()
	defer kt.mu.RUnlock()
	h := digestHash(d)
	x := &kt.byDigest
	if x.slots.Len() == 0 {
		return false
	}
	mask := uint64(x.slots.Len() - 1)
	tag := h &^ 0xffffffff
	// Probed by hand, not with slotIndex.probe: this is every request.
	for i := slotHome(h, mask); ; i = (i + 1) & mask {
		s := *x.slots.At(int(i))
		if s == 0 {
			return false
		}
		if s&^0xffffffff != tag {
			continue
		}
		ci := uint32(s&0xffffffff) - 1
		c := kt.creds.At(int(ci))
		if c.digest != *d {
			continue
		}
		k := kt.keys.At(int(c.key))
		sc := &kt.scopes[k.scopes]
		*v = keyView{
			id: kt.ids.String(k.id), enabled: k.enabled, expires: k.expires, access: k.access,
			models: sc.models, routes: sc.routes, scoped: len(sc.models) > 0,
			label: c.label, graceUntil: c.graceUntil, keyStats: nopKey{},
		}
		if st, ok := kt.stats[c.key]; ok {
			v.keyStats = st
		}
		return true
	}
}

// digestHash places a digest: an HMAC output, so its first bytes are
// already uniform.
func digestHash(d *keyvalue.Digest) uint64 { return binary.LittleEndian.Uint64(d[:8]) }

// has reports whether a key with this ID is in the table.
func (kt *keyTable) has(id string) bool {
	kt.mu.RLock()
	defer kt.mu.RUnlock()
	_, ok := kt.findKey(id)
	return ok
}

// len returns the number of keys and of credentials.
func (kt *keyTable) len() (keys, creds int) {
	kt.mu.RLock()
	defer kt.mu.RUnlock()
	return kt.byID.n, kt.byDigest.n
}

// bytes returns the memory the table's arrays and arena have mapped.
func (kt *keyTable) bytes() int {
	kt.mu.RLock()
	defer kt.mu.RUnlock()
	return kt.keys.Bytes() + kt.creds.Bytes() + kt.byDigest.bytes() + kt.byID.bytes() + kt.ids.Bytes()
}

// internAccess returns the index of k's stage and plan combination and
// whether it is new. Under the gateway's reloadMu.
func (kt *keyTable) internAccess(k *keyward.APIKey) (uint32, bool) {
	b := kt.sigBuf[:0]
	for _, sk := range k.StageKeys {
		b = append(b, sk.APIID...)
		b = append(b, '/')
		b = append(b, sk.Stage...)
		b = append(b, ' ')
	}
	b = append(b, '|')
	for _, p := range k.PlanIDs {
		b = append(b, p...)
		b = append(b, ' ')
	}
	kt.sigBuf = b
	if a, ok := kt.accessBy[string(b)]; ok {
		return a, false
	}
	sig := accessSig{plans: append([]string(nil), k.PlanIDs...)}
	for _, sk := range k.StageKeys {
		sig.stages = append(sig.stages, sk.String())
	}
	a := uint32(len(kt.access))
	kt.access = append(kt.access, sig)
	kt.accessBy[string(b)] = a
	return a, true
}

// internScopes returns the index of k's scopes. Under mu.
func (kt *keyTable) internScopes(s *keyward.Scopes) uint32 {
	if len(s.Models) == 0 && len(s.Routes) == 0 {
		return 0
	}
	var b strings.Builder
	for _, m := range s.Models {
		b.WriteString(m)
		b.WriteByte(0)
	}
	b.WriteByte(1)
	for _, r := range s.Routes {
		b.WriteString(r.Method)
		b.WriteByte(' ')
		b.WriteString(r.Path)
		b.WriteByte(0)
	}
	if i, ok := kt.scopesBy[b.String()]; ok {
		return i
	}
	i := uint32(len(kt.scopes))
	kt.scopes = append(kt.scopes, scopeSet{models: append([]string(nil), s.Models...), routes: append([]keyward.RoutePattern(nil), s.Routes...)})
	kt.scopesBy[b.String()] = i
	return i
}

// put stores k (its state, scopes and credentials) in place of what the
// table held for it, marked with the current generation. access is k's
// interned stage and plan combination; stats its metric handles (nopKey
// for none). A lookup sees the key before or after, never half of it.
func (kt *keyTable) put(k *keyward.APIKey, access uint32, stats KeyMetrics) {
	kt.mu.Lock()
	defer kt.mu.Unlock()
	var ki uint32
	ok := false
	if !kt.filling {
		ki, ok = kt.findKey(k.ID)
	}
	if ok {
		kt.dropCreds(ki)
	} else {
		ki = kt.newKey(k.ID)
	}
	r := kt.keys.At(int(ki))
	r.enabled, r.access, r.gen = k.Enabled, access, kt.gen
	r.expires = 0
	if k.ExpiresAt != nil {
		r.expires = k.ExpiresAt.UnixNano()
	}
	r.scopes = kt.internScopes(&k.Scopes)
	if _, nop := stats.(nopKey); nop || stats == nil {
		delete(kt.stats, ki)
	} else {
		kt.stats[ki] = stats
	}
	for i := len(k.Credentials) - 1; i >= 0; i-- {
		c := &k.Credentials[i]
		if len(c.Digest) != len(keyvalue.Digest{}) {
			continue // not a digest this gateway could match
		}
		rec := credRec{digest: keyvalue.Digest(c.Digest), key: ki, label: credLabelOf(c.Label)}
		if c.GraceUntil != nil {
			rec.graceUntil = c.GraceUntil.UnixNano()
		}
		rec.next = kt.keys.At(int(ki)).cred
		ci := kt.newCred(rec)
		kt.keys.At(int(ki)).cred = ci + 1
	}
}

// remove takes the key with this ID out; false when it was not there.
func (kt *keyTable) remove(id string) bool {
	kt.mu.Lock()
	defer kt.mu.Unlock()
	ki, ok := kt.findKey(id)
	if !ok {
		return false
	}
	kt.removeAt(ki)
	return true
}

// beginGen starts a full load: keys put from now on carry a new mark.
func (kt *keyTable) beginGen() {
	kt.mu.Lock()
	kt.gen++
	kt.filling = kt.byID.n == 0
	kt.mu.Unlock()
}

// endGen ends a full load, whether it succeeded or not.
func (kt *keyTable) endGen() {
	kt.mu.Lock()
	kt.filling = false
	kt.mu.Unlock()
}

// sweep removes the keys a full load did not put (they are gone from the
// store) and returns their IDs.
func (kt *keyTable) sweep() []string {
	kt.mu.Lock()
	defer kt.mu.Unlock()
	var gone []string
	for i := range kt.keys.Len() {
		if r := kt.keys.At(i); r.live && r.gen != kt.gen {
			gone = append(gone, kt.ids.String(r.id))
			kt.removeAt(uint32(i))
		}
	}
	return gone
}

func (kt *keyTable) removeAt(ki uint32) {
	kt.dropCreds(ki)
	id := kt.ids.String(kt.keys.At(int(ki)).id)
	if pos, ok := kt.byID.probe(kt.idHash(id), func(i uint32) bool { return i == ki }); ok {
		kt.byID.deleteAt(pos)
	}
	*kt.keys.At(int(ki)) = keyRec{}
	delete(kt.stats, ki)
	kt.free = append(kt.free, ki)
}

// findKey returns the index of the key with this ID.
func (kt *keyTable) findKey(id string) (uint32, bool) {
	var found uint32
	_, ok := kt.byID.probe(kt.idHash(id), func(i uint32) bool {
		found = i
		return kt.ids.String(kt.keys.At(int(i)).id) == id
	})
	return found, ok
}

func (kt *keyTable) idHash(id string) uint64 { return maphash.String(kt.seed, id) }

// newKey makes a live record for a key with this ID, indexed by it. The
// ID is stored once, in the arena: a string handed out for it (to the
// limiter, the usage recorder) stays valid after the key is gone.
func (kt *keyTable) newKey(id string) uint32 {
	r := keyRec{id: kt.ids.Put(id), live: true}
	var ki uint32
	if n := len(kt.free); n > 0 {
		ki = kt.free[n-1]
		kt.free = kt.free[:n-1]
		*kt.keys.At(int(ki)) = r
	} else {
		ki = uint32(kt.keys.Append(r))
	}
	kt.byID.insert(kt.idHash(id), ki)
	return ki
}

// newCred stores a credential and indexes it by its digest. A digest
// already indexed (for another key: the store forbids it, but a table is
// only as good as what it is given) is pointed at the new credential.
func (kt *keyTable) newCred(rec credRec) uint32 {
	var ci uint32
	if n := len(kt.freeCred); n > 0 {
		ci = kt.freeCred[n-1]
		kt.freeCred = kt.freeCred[:n-1]
		*kt.creds.At(int(ci)) = rec
	} else {
		ci = uint32(kt.creds.Append(rec))
	}
	h := digestHash(&rec.digest)
	if kt.filling {
		kt.byDigest.insert(h, ci)
		return ci
	}
	if pos, ok := kt.findDigest(h, &rec.digest); ok {
		kt.byDigest.set(pos, h, ci)
		return ci
	}
	kt.byDigest.insert(h, ci)
	return ci
}

// findDigest returns the slot position of the credential with digest d.
func (kt *keyTable) findDigest(h uint64, d *keyvalue.Digest) (int, bool) {
	return kt.byDigest.probe(h, func(i uint32) bool { return kt.creds.At(int(i)).digest == *d })
}

// dropCreds removes key ki's credentials from the index and frees them.
func (kt *keyTable) dropCreds(ki uint32) {
	r := kt.keys.At(int(ki))
	for c := r.cred; c != 0; {
		ci := c - 1
		cr := kt.creds.At(int(ci))
		next := cr.next
		// Only this credential's own slot: another key's credential may
		// have taken over the digest (newCred).
		if pos, ok := kt.byDigest.probe(digestHash(&cr.digest), func(i uint32) bool { return i == ci }); ok {
			kt.byDigest.deleteAt(pos)
		}
		*kt.creds.At(int(ci)) = credRec{}
		kt.freeCred = append(kt.freeCred, ci)
		c = next
	}
	kt.keys.At(int(ki)).cred = 0
}
