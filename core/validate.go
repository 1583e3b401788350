package core

import (
	"crypto/rand"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/webhook"
)

// Input limits. They keep rows and audit records bounded and make the
// messages of EINVALID errors precise.
const (
	maxNameLen        = 128
	maxDescriptionLen = 1024
	maxTags           = 50
	maxTagKeyLen      = 128
	maxTagValueLen    = 256
	maxListItems      = 100
	maxSecretBytes    = 64 << 10
)

// The shapes of names (nameshape.go), each the whole string.
var (
	apiName     = nameShape(lowerDigits, lowerDigits+"_-", 63)     // [a-z0-9][a-z0-9_-]{0,62}
	stageName   = nameShape(alnum, alnum+"_-", 64)                 // [A-Za-z0-9][A-Za-z0-9_-]{0,63}
	secretName  = nameShape(alnum+"/_+=.@-", alnum+"/_+=.@-", 512) // [A-Za-z0-9/_+=.@-]{1,512}
	principal   = nameShape(alnum, alnum+"._@-", 128)              // [A-Za-z0-9][A-Za-z0-9._@-]{0,127}
	clientToken = nameShape(alnum+"_-", alnum+"_-", 64)            // [A-Za-z0-9_-]{1,64}
	planName    = nameShape(alnum, alnum+" ._-", 128)              // [A-Za-z0-9][A-Za-z0-9 ._-]{0,127}
)

const idAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// newID returns prefix + "_" + 20 random characters of [a-z0-9] (about 103
// bits): public identifiers, not secrets, but unguessable all the same.
//
// The first 9 of the 20 characters are the creation time in milliseconds,
// base 36 (good until the year 5138), so IDs sort by creation: a new row
// goes to the right edge of its table's primary key instead of a random
// page, and a batch of a thousand inserts writes a few pages rather than a
// thousand (bulk imports, the WAL). The other 11 are random (36^11, about
// 2^57, per millisecond). IDs are names, not secrets.
func newID(prefix string) string {
	var b [20]byte
	out := make([]byte, 0, len(prefix)+1+len(b))
	out = append(out, prefix...)
	out = append(out, '_')
	ms := uint64(time.Now().UnixMilli())
	var ts [9]byte
	for i := len(ts) - 1; i >= 0; i-- {
		ts[i] = idAlphabet[ms%36]
		ms /= 36
	}
	out = append(out, ts[:]...)
	for len(out) < cap(out) {
		_, _ = rand.Read(b[:])
		for _, c := range b {
			if c < 252 && len(out) < cap(out) { // 252 = 7*36: no modulo bias
				out = append(out, idAlphabet[c%36])
			}
		}
	}
	return string(out)
}

// idPrefixRE matches the type prefixes of IDs. A name shaped like an ID
// would make "ID or name" references ambiguous, so names may not use them.
var idPrefixRE = regexp.MustCompile(`^(key|cred|api|plan|prn|pol|tok|whk|rot|dlv)_`)

func checkNotIDShaped(kind, name string) error {
	if idPrefixRE.MatchString(name) {
		return invalid("%s name must not start with an ID prefix such as %q", kind, idPrefixRE.FindString(name))
	}
	return nil
}

func invalid(format string, args ...any) error {
	return keyward.Errorf(keyward.EINVALID, format, args...)
}

// checkFilters refuses list filters no stored name can equal: invalid
// UTF-8 or a NUL byte, which PostgreSQL cannot even take as a text
// parameter (the call failed as an internal error there, and matched
// nothing on SQLite).
func checkFilters(values ...string) error {
	for _, v := range values {
		if !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
			return invalid("a filter must be valid UTF-8 without NUL bytes")
		}
	}
	return nil
}

func checkText(field, v string, max int, required bool) error {
	switch {
	case required && strings.TrimSpace(v) == "":
		return invalid("%s is required", field)
	case len(v) > max:
		return invalid("%s is longer than %d bytes", field, max)
	case !utf8.ValidString(v):
		return invalid("%s is not valid UTF-8", field)
	case strings.ContainsAny(v, "\x00\r\n") && field != "description":
		return invalid("%s contains control characters", field)
	}
	return nil
}

func checkTags(tags map[string]string) error {
	if len(tags) > maxTags {
		return invalid("at most %d tags", maxTags)
	}
	for k, v := range tags {
		if err := checkText("tag key", k, maxTagKeyLen, true); err != nil {
			return err
		}
		if strings.HasPrefix(k, reservedTagPrefix) {
			return invalid("tag %q: tags starting %q are set by keyward only", k, reservedTagPrefix)
		}
		if err := checkText("tag value", v, maxTagValueLen, false); err != nil {
			return err
		}
	}
	return nil
}

// checkRotationPolicy: rotate every 1 minute to 1000 days, with a grace
// period of 0 to MaxGrace.
func checkRotationPolicy(p *keyward.RotationPolicy) error {
	if p == nil {
		return nil
	}
	if p.Every.Std() < time.Minute || p.Every.Std() > 1000*24*time.Hour {
		return invalid("rotation.every must be between 1m and 1000d")
	}
	if p.Grace < 0 || p.Grace.Std() > MaxGrace {
		return invalid("rotation.grace must be between 0 and %s", keyward.Duration(MaxGrace))
	}
	if p.Grace >= p.Every {
		// A key holds one PREVIOUS: the next rotation would end the grace
		// of the value before it early.
		return invalid("rotation.grace must be shorter than rotation.every")
	}
	return nil
}

func checkClientToken(t string) error {
	if t != "" && !clientToken.MatchString(t) {
		return invalid("clientToken must be 1-64 characters of A-Z a-z 0-9 _ -")
	}
	return nil
}

func checkSecretName(name string) error {
	if !secretName.MatchString(name) {
		return invalid("secret name must be 1-512 characters of A-Z a-z 0-9 / _ + = . @ -")
	}
	return nil
}

func checkUpstreamURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return invalid("upstream URL must be an absolute http or https URL")
	}
	if u.User != nil {
		return invalid("upstream URL must not carry credentials: use an upstream secret")
	}
	// A stage pointed at a metadata service would hand its answers (cloud
	// credentials) to anyone with a key bound there.
	if a, err := netip.ParseAddr(strings.TrimSuffix(u.Hostname(), ".")); err == nil && webhook.Blocked(a) {
		return invalid("upstream URL host %s is a link-local or metadata address", u.Hostname())
	}
	return nil
}

// checkScopes applies the domain's scope rules, the ones the CLI and the
// Pulumi provider check before a request is sent.
func checkScopes(sc keyward.Scopes) error { return sc.Validate() }
