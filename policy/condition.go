package policy

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/clientip"
)

// conditionKey returns the one key an operator accepts.
func conditionKey(op string) (string, bool) {
	switch op {
	case keyward.CondIPAddress, keyward.CondNotIPAddress:
		return keyward.KeySourceIP, true
	case keyward.CondDateGreaterThan, keyward.CondDateLessThan:
		return keyward.KeyCurrentTime, true
	}
	return "", false
}

// checkCondition checks each operator, key and value, then that the
// conditions together can hold: a statement whose conditions exclude every
// source address or every instant never applies, which for a Deny means it
// protects nothing.
func checkCondition(at string, cond map[string]map[string]keyward.StringList) error {
	for _, op := range sortedKeys(cond) {
		want, ok := conditionKey(op)
		if !ok {
			return invalid("%s: Condition operator %q is not supported (use %s, %s, %s or %s)", at, clip(op),
				keyward.CondIPAddress, keyward.CondNotIPAddress, keyward.CondDateGreaterThan, keyward.CondDateLessThan)
		}
		keys := cond[op]
		if len(keys) == 0 {
			return invalid("%s: Condition %s has no key", at, op)
		}
		for _, k := range sortedKeys(keys) {
			if k != want {
				return invalid("%s: Condition %s does not support key %q (want %s)", at, op, clip(k), want)
			}
			vals := keys[k]
			if len(vals) == 0 {
				return invalid("%s: Condition %s %s has no value", at, op, k)
			}
			for i, v := range vals {
				var err error
				what := "a CIDR or an IP address"
				if want == keyward.KeySourceIP {
					_, err = parseNet(v)
				} else {
					_, err = time.Parse(time.RFC3339, v)
					what = "an RFC 3339 time"
				}
				if err != nil {
					return invalid("%s: Condition %s %s[%d] %q is not %s", at, op, k, i+1, clip(v), what)
				}
			}
		}
	}
	if why := noAddress(cond); why != "" {
		return invalid("%s: %s: the statement can never apply", at, why)
	}
	if why := noInstant(cond); why != "" {
		return invalid("%s: %s: the statement can never apply", at, why)
	}
	return nil
}

// noAddress says why no source address satisfies both IpAddress (in any
// of its prefixes; every address when absent) and NotIpAddress (in none of
// its prefixes), or returns "" when some does. Source addresses are IPv4 or
// IPv6, never IPv4-mapped (they are unmapped before matching).
func noAddress(cond map[string]map[string]keyward.StringList) string {
	in, hasIn := cond[keyward.CondIPAddress][keyward.KeySourceIP]
	out := cond[keyward.CondNotIPAddress][keyward.KeySourceIP]
	if len(out) == 0 {
		return ""
	}
	excluded := mergeRanges(prefixRanges(out))
	allowed := prefixRanges(in)
	if !hasIn {
		allowed = prefixRanges([]string{"0.0.0.0/0", "::/0"})
	}
	for _, r := range allowed {
		if !covered(r, excluded) {
			return ""
		}
	}
	if !hasIn {
		return fmt.Sprintf("Condition %s %s excludes every source address", keyward.CondNotIPAddress, keyward.KeySourceIP)
	}
	return fmt.Sprintf("Condition %s %s excludes every address of %s", keyward.CondNotIPAddress, keyward.KeySourceIP, keyward.CondIPAddress)
}

// addrRange is the addresses from lo to hi, both included, of one family.
type addrRange struct{ lo, hi netip.Addr }

func prefixRanges(vals []string) []addrRange {
	out := make([]addrRange, 0, len(vals))
	for _, v := range vals {
		p, err := parseNet(v) // checked before
		if err != nil {
			continue
		}
		out = append(out, addrRange{p.Addr(), lastAddr(p)})
	}
	return out
}

// lastAddr returns the highest address of the masked prefix p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// mergeRanges sorts ranges and joins those that overlap or touch, so that
// a range is covered by the union exactly when one merged range holds it.
func mergeRanges(rs []addrRange) []addrRange {
	slices.SortFunc(rs, func(a, b addrRange) int { return a.lo.Compare(b.lo) })
	var out []addrRange
	for _, r := range rs {
		if n := len(out); n > 0 && out[n-1].hi.Is4() == r.lo.Is4() {
			last := &out[n-1]
			if next := last.hi.Next(); !next.IsValid() || r.lo.Compare(next) <= 0 {
				if r.hi.Compare(last.hi) > 0 {
					last.hi = r.hi
				}
				continue
			}
		}
		out = append(out, r)
	}
	return out
}

func covered(r addrRange, merged []addrRange) bool {
	for _, m := range merged {
		if m.lo.Is4() == r.lo.Is4() && m.lo.Compare(r.lo) <= 0 && r.hi.Compare(m.hi) <= 0 {
			return true
		}
	}
	return false
}

// noInstant says why no instant is after one DateGreaterThan bound and
// before one DateLessThan bound (after the earliest and before the latest),
// or returns "" when some is.
func noInstant(cond map[string]map[string]keyward.StringList) string {
	after := cond[keyward.CondDateGreaterThan][keyward.KeyCurrentTime]
	before := cond[keyward.CondDateLessThan][keyward.KeyCurrentTime]
	if len(after) == 0 || len(before) == 0 {
		return ""
	}
	earliest := slices.MinFunc(parseTimes(after), func(a, b time.Time) int { return a.Compare(b) })
	latest := slices.MaxFunc(parseTimes(before), func(a, b time.Time) int { return a.Compare(b) })
	// Times have nanoseconds: some instant lies strictly between the two
	// only when they are at least 2ns apart.
	if latest.Sub(earliest) < 2*time.Nanosecond {
		return fmt.Sprintf("Condition %s %s and %s %s leave no time between them",
			keyward.CondDateGreaterThan, earliest.Format(time.RFC3339Nano), keyward.CondDateLessThan, latest.Format(time.RFC3339Nano))
	}
	return ""
}

func parseTimes(vals []string) []time.Time {
	out := make([]time.Time, 0, len(vals))
	for _, v := range vals {
		if t, err := time.Parse(time.RFC3339, v); err == nil { // checked before
			out = append(out, t)
		}
	}
	return out
}

// parseNet reads a kw:SourceIp value: the one rule of clientip.ParsePrefix.
func parseNet(v string) (netip.Prefix, error) { return clientip.ParsePrefix(v) }
