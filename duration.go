package keyward

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration that reads and writes JSON as text ("720h",
// "30d", "90s"), so that policies stay readable in requests and stores.
type Duration time.Duration

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String formats d with whole days as "Nd" and the rest as Go does.
func (d Duration) String() string {
	t := time.Duration(d)
	if t > 0 && t%oneDay == 0 {
		return strconv.FormatInt(int64(t/oneDay), 10) + "d"
	}
	return t.String()
}

// ParseDuration is keyward's one reading of a duration, for the API, the
// CLI and the Pulumi provider alike: a Go duration ("36h", "90m",
// "1h30m"), a whole number of days ("30d"), or days followed by a Go
// duration ("1d12h"). A negative duration is an error, and so is one too
// long for a time.Duration (about 292 years), rather than a wrapped value.
// Zero ("0s", "0d") is allowed: whether it makes sense is the caller's
// business.
func ParseDuration(s string) (Duration, error) {
	if strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("duration %q must not be negative", s)
	}
	i := strings.IndexByte(s, 'd')
	if i < 0 {
		t, err := time.ParseDuration(s)
		if err != nil || t < 0 {
			return 0, invalidDuration(s)
		}
		return Duration(t), nil
	}
	digits, rest := strings.TrimPrefix(s[:i], "+"), s[i+1:]
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return 0, invalidDuration(s)
	}
	days, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || days > math.MaxInt64/int64(oneDay) {
		return 0, fmt.Errorf("duration %q is too long", s)
	}
	d := time.Duration(days) * oneDay
	if rest == "" {
		return Duration(d), nil
	}
	if rest[0] == '+' || rest[0] == '-' {
		return 0, invalidDuration(s) // one sign, in front, as Go has it
	}
	r, err := time.ParseDuration(rest)
	if err != nil {
		return 0, invalidDuration(s)
	}
	if r > math.MaxInt64-d {
		return 0, fmt.Errorf("duration %q is too long", s)
	}
	return Duration(d + r), nil
}

const oneDay = 24 * time.Hour

func invalidDuration(s string) error {
	return fmt.Errorf("invalid duration %q: want e.g. 30d, 12h or 1d12h", s)
}

// MarshalJSON writes d as text.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads text (or a number of nanoseconds, for hand-written
// JSON that means it).
func (d *Duration) UnmarshalJSON(b []byte) error {
	// Errors are *Error values without the input in them: an adapter may
	// show them to the caller as they are.
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n int64
		if err := json.Unmarshal(b, &n); err != nil {
			return Errorf(EINVALID, "a duration must be a string such as \"30d\", \"12h\" or \"1d12h\"")
		}
		if n < 0 {
			return Errorf(EINVALID, "a duration must not be negative")
		}
		*d = Duration(n)
		return nil
	}
	v, err := ParseDuration(s)
	if err != nil {
		return Errorf(EINVALID, "a duration must be such as \"30d\", \"12h\" or \"1d12h\": not negative, at most about 292 years")
	}
	*d = v
	return nil
}
