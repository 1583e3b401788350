package cli

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward"
)

// This file holds the parsers of flag values and the pflag.Value types built
// on them, so that a bad value is a usage error (exit 2) raised while flags
// are parsed, naming the flag.

// parseDuration reads a --expires style duration with keyward.ParseDuration
// ("30d", "12h", "1d12h"); such a flag also needs it to be positive.
func parseDuration(s string) (time.Duration, error) {
	d, err := keyward.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, err
	}
	if d == 0 {
		return 0, fmt.Errorf("duration %q must be positive", s)
	}
	return d.Std(), nil
}

// parseTag parses "key=value"; the value may be empty, the key may not.
func parseTag(s string) (string, string, error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok || strings.TrimSpace(k) == "" {
		return "", "", fmt.Errorf("invalid tag %q: want key=value", s)
	}
	return k, v, nil
}

// parseStageKey parses "API/STAGE", where API is an API's name or ID.
func parseStageKey(s string) (keyward.StageKey, error) {
	i := strings.LastIndexByte(s, '/')
	if i <= 0 || i == len(s)-1 {
		return keyward.StageKey{}, fmt.Errorf("invalid stage %q: want API/STAGE", s)
	}
	return keyward.StageKey{APIID: s[:i], Stage: s[i+1:]}, nil
}

// parseRoute parses "METHOD /path/glob"; a bare "/path/glob" allows any
// method ("*"). The method may be given in any case; the rest is the
// domain's rule (RoutePattern.Validate), so a bad route fails here, naming
// the flag, rather than at the server.
func parseRoute(s string) (keyward.RoutePattern, error) {
	f := strings.Fields(s)
	var r keyward.RoutePattern
	switch len(f) {
	case 1:
		r = keyward.RoutePattern{Method: "*", Path: f[0]}
	case 2:
		r = keyward.RoutePattern{Method: strings.ToUpper(f[0]), Path: f[1]}
	default:
		return r, fmt.Errorf("invalid route %q: want \"METHOD /path/glob\"", s)
	}
	if err := r.Validate(); err != nil {
		return keyward.RoutePattern{}, fmt.Errorf("invalid route %q: %s", s, keyward.ErrorMessage(err))
	}
	return r, nil
}

// parseUpstream parses "STAGE=UPSTREAM_URL"; the URL must be absolute http(s).
func parseUpstream(s string) (keyward.Stage, error) {
	name, raw, ok := strings.Cut(s, "=")
	if !ok || strings.TrimSpace(name) == "" {
		return keyward.Stage{}, fmt.Errorf("invalid stage %q: want STAGE=UPSTREAM_URL", s)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return keyward.Stage{}, fmt.Errorf("invalid upstream URL for stage %q: want http(s)://host[/path]", name)
	}
	return keyward.Stage{Name: name, UpstreamURL: raw}, nil
}

// parseQuota parses "N/DAY", "N/WEEK" or "N/MONTH" (period case-insensitive).
func parseQuota(s string) (keyward.Quota, error) {
	n, p, ok := strings.Cut(s, "/")
	if !ok {
		return keyward.Quota{}, fmt.Errorf("invalid quota %q: want N/DAY, N/WEEK or N/MONTH", s)
	}
	limit, err := strconv.ParseInt(strings.TrimSpace(n), 10, 64)
	if err != nil || limit <= 0 {
		return keyward.Quota{}, fmt.Errorf("invalid quota %q: the limit must be a positive integer", s)
	}
	period := keyward.QuotaPeriod(strings.ToUpper(strings.TrimSpace(p)))
	switch period {
	case keyward.PeriodDay, keyward.PeriodWeek, keyward.PeriodMonth:
	default:
		return keyward.Quota{}, fmt.Errorf("invalid quota %q: the period must be DAY, WEEK or MONTH", s)
	}
	return keyward.Quota{Limit: limit, Period: period}, nil
}

// checkQuotaOffset checks the offset against the period, as the domain
// documents it (DAY: 0, WEEK: 0-6, MONTH: 0-27).
func checkQuotaOffset(p keyward.QuotaPeriod, off int) error {
	max := map[keyward.QuotaPeriod]int{keyward.PeriodDay: 0, keyward.PeriodWeek: 6, keyward.PeriodMonth: 27}[p]
	if off < 0 || off > max {
		return usagef("--quota-offset %d is out of range for a %s quota (0-%d)", off, p, max)
	}
	return nil
}

// durationFlag is a --expires style flag.
type durationFlag struct{ d time.Duration }

func (f *durationFlag) String() string {
	if f.d == 0 {
		return ""
	}
	return f.d.String()
}
func (f *durationFlag) Type() string { return "DURATION" }
func (f *durationFlag) Set(s string) error {
	d, err := parseDuration(s)
	if err != nil {
		return err
	}
	f.d = d
	return nil
}

// policyDurationFlag is a duration that the server keeps as text (a
// rotation schedule, a grace period), read by keyward.ParseDuration ("30d",
// "36h", "1d12h"). Zero is allowed; whether it makes sense is the flag's
// business. set tells whether it was given.
type policyDurationFlag struct {
	d   keyward.Duration
	set bool
}

func (f *policyDurationFlag) String() string {
	if !f.set {
		return ""
	}
	return f.d.String()
}
func (f *policyDurationFlag) Type() string { return "DURATION" }
func (f *policyDurationFlag) Set(s string) error {
	d, err := keyward.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return err
	}
	f.d, f.set = d, true
	return nil
}

// ptr returns a pointer to a copy of the flag's value.
func (f *policyDurationFlag) ptr() *keyward.Duration {
	d := f.d
	return &d
}

// dayFlag is a --from/--to style flag: a UTC day as YYYY-MM-DD.
type dayFlag struct{ t time.Time }

func (f *dayFlag) String() string {
	if f.t.IsZero() {
		return ""
	}
	return f.t.Format(keyward.DayFormat)
}
func (f *dayFlag) Type() string { return "DAY" }
func (f *dayFlag) Set(s string) error {
	t, err := time.Parse(keyward.DayFormat, s)
	if err != nil {
		return fmt.Errorf("invalid day %q: want YYYY-MM-DD", s)
	}
	f.t = t
	return nil
}

// quotaFlag is --quota N/PERIOD.
type quotaFlag struct{ q *keyward.Quota }

func (f *quotaFlag) String() string {
	if f.q == nil {
		return ""
	}
	return fmt.Sprintf("%d/%s", f.q.Limit, f.q.Period)
}
func (f *quotaFlag) Type() string { return "N/PERIOD" }
func (f *quotaFlag) Set(s string) error {
	q, err := parseQuota(s)
	if err != nil {
		return err
	}
	f.q = &q
	return nil
}

// tagsFlag is a repeated --tag key=value. An empty value adds nothing, so
// `--tag ”` on an update replaces the tags with none.
type tagsFlag struct{ m map[string]string }

func (f *tagsFlag) String() string { return fmtTags(f.m) }
func (f *tagsFlag) Type() string   { return "KEY=VALUE" }
func (f *tagsFlag) Set(s string) error {
	if f.m == nil {
		f.m = map[string]string{}
	}
	if s == "" {
		return nil
	}
	k, v, err := parseTag(s)
	if err != nil {
		return err
	}
	if _, dup := f.m[k]; dup {
		return fmt.Errorf("tag %q given twice", k)
	}
	f.m[k] = v
	return nil
}

// listFlag is a repeated flag whose values parse into T. An empty value adds
// nothing, so `--stage ”` on an update replaces the list with an empty one.
type listFlag[T any] struct {
	typ   string
	parse func(string) (T, error)
	items []T
	raw   []string
}

func newListFlag[T any](typ string, parse func(string) (T, error)) *listFlag[T] {
	return &listFlag[T]{typ: typ, parse: parse, items: []T{}}
}

func (f *listFlag[T]) String() string { return strings.Join(f.raw, ",") }
func (f *listFlag[T]) Type() string   { return f.typ }
func (f *listFlag[T]) Set(s string) error {
	if s == "" {
		return nil
	}
	v, err := f.parse(s)
	if err != nil {
		return err
	}
	f.items = append(f.items, v)
	f.raw = append(f.raw, s)
	return nil
}

// stringsFlag returns a list flag of plain non-empty strings.
func stringsFlag(typ string) *listFlag[string] {
	return newListFlag(typ, func(s string) (string, error) { return s, nil })
}

// stageSecretsFlag is a repeated --upstream-secret STAGE=SECRET_NAME.
type stageSecretsFlag struct{ m map[string]string }

func (f *stageSecretsFlag) String() string { return fmtTags(f.m) }
func (f *stageSecretsFlag) Type() string   { return "STAGE=SECRET" }
func (f *stageSecretsFlag) Set(s string) error {
	st, name, ok := strings.Cut(s, "=")
	if !ok || st == "" || name == "" {
		return fmt.Errorf("invalid upstream secret %q: want STAGE=SECRET_NAME", s)
	}
	if f.m == nil {
		f.m = map[string]string{}
	}
	if _, dup := f.m[st]; dup {
		return fmt.Errorf("stage %q given twice", st)
	}
	f.m[st] = name
	return nil
}

// timeFlag is --since/--until: an RFC 3339 time, a UTC day as YYYY-MM-DD,
// or a duration before now ("90m", "2h", "7d"), which is resolved when the
// command runs. With endOfDay a day means its last instant, so that an
// inclusive upper bound of "2025-03-01" takes in the whole day.
type timeFlag struct {
	endOfDay bool
	raw      string
	t        time.Time
	ago      time.Duration
}

func (f *timeFlag) String() string { return f.raw }
func (f *timeFlag) Type() string   { return "TIME" }
func (f *timeFlag) Set(s string) error {
	s = strings.TrimSpace(s)
	var t time.Time
	var ago time.Duration
	var err error
	switch {
	case len(s) == len(keyward.DayFormat) && strings.Count(s, "-") == 2:
		if t, err = time.Parse(keyward.DayFormat, s); err == nil && f.endOfDay {
			t = t.Add(24*time.Hour - time.Nanosecond)
		}
	case strings.Contains(s, "T"):
		t, err = time.Parse(time.RFC3339Nano, s)
	default:
		ago, err = parseDuration(s)
	}
	if err != nil {
		return fmt.Errorf("invalid time %q: want an RFC 3339 time, YYYY-MM-DD or a duration ago such as 2h or 7d", s)
	}
	f.raw, f.t, f.ago = s, t.UTC(), ago
	return nil
}

// at returns the time the flag names, relative ones counted back from now;
// nil when the flag was not given.
func (f *timeFlag) at(now time.Time) *time.Time {
	switch {
	case f.raw == "":
		return nil
	case f.ago > 0:
		t := now.Add(-f.ago)
		return &t
	}
	t := f.t
	return &t
}
