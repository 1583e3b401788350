package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/strictjson"
)

// decodeJSON reads exactly one JSON value from rd into v, rejecting unknown
// fields and whatever strictjson refuses: invalid UTF-8, unpaired surrogate
// escapes and repeated keys at any depth (encoding/json would repair the
// first two and keep the last of the repeated keys, so that what is stored
// and audited would not be what was sent). Errors are *keyward.Error with
// code EINVALID (errBodyTooLarge when rd is a http.MaxBytesReader past its
// limit) and messages that never quote the input, a request body may hold a
// secret, except for a repeated key, which they name.
func decodeJSON(rd io.Reader, v any) error {
	b, err := io.ReadAll(rd)
	if err != nil {
		if isTooLarge(err) {
			return errBodyTooLarge
		}
		return keyward.Errorf(keyward.EINVALID, "cannot read request body")
	}
	if err := strictjson.Check(b); err != nil {
		if msg := strictMessage(err); msg != "" {
			return keyward.Errorf(keyward.EINVALID, "%s", msg)
		}
		// Malformed: encoding/json words it below, as it always has.
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return keyward.Errorf(keyward.EINVALID, "request body must hold exactly one JSON value")
	}
	return nil
}

// strictMessage words what strictjson refuses and encoding/json accepts;
// "" for malformed JSON, which decodeError words.
func strictMessage(err error) string {
	var e *strictjson.Error
	if !errors.As(err, &e) {
		return ""
	}
	switch e.Problem {
	case strictjson.InvalidUTF8:
		return fmt.Sprintf("request body is not valid UTF-8 (byte %d)", e.Offset)
	case strictjson.LoneSurrogate:
		return fmt.Sprintf("request body has an unpaired UTF-16 surrogate escape at byte %d", e.Offset)
	case strictjson.TooDeep:
		return fmt.Sprintf("request body is nested deeper than %d levels", strictjson.MaxDepth)
	case strictjson.DuplicateKey:
		// The key, not its value: names of fields, tags and policy
		// elements, clipped and quoted (control characters escaped).
		return fmt.Sprintf("request body repeats the key %s at byte %d", quoteKey(e.Key), e.Offset)
	}
	return ""
}

// quoteKey quotes a JSON key for a message, clipped to 64 bytes.
func quoteKey(k string) string {
	const max = 64
	if len(k) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(k[cut]) {
			cut--
		}
		return strconv.Quote(k[:cut]) + "…"
	}
	return strconv.Quote(k)
}

// checkURL refuses a request path or query string that is not valid UTF-8
// once percent-decoded: path values and query parameters are IDs, names and
// cursors, which never are, and a handler must not see bytes it would store
// or log repaired. Malformed query strings are newQuery's to refuse.
func checkURL(u *url.URL) error {
	if !utf8.ValidString(u.Path) {
		return keyward.Errorf(keyward.EINVALID, "request path is not valid UTF-8")
	}
	vals, _ := url.ParseQuery(u.RawQuery)
	for k, vs := range vals {
		if !utf8.ValidString(k) {
			return keyward.Errorf(keyward.EINVALID, "query string is not valid UTF-8")
		}
		for _, v := range vs {
			if !utf8.ValidString(v) {
				return keyward.Errorf(keyward.EINVALID, "query string is not valid UTF-8")
			}
		}
	}
	return nil
}

// decodeError turns a decoding error into a message that names at most an
// offset, never content (json's own messages quote field names and values).
func decodeError(err error) error {
	var (
		syntax  *json.SyntaxError
		typ     *json.UnmarshalTypeError
		invalid *json.InvalidUnmarshalError
	)
	var own *keyward.Error
	switch {
	case isTooLarge(err):
		return errBodyTooLarge
	case errors.As(err, &own) && own.Code == keyward.EINVALID:
		return own // our own types' decoders (durations) say what is wrong, without content
	case errors.Is(err, io.EOF):
		return keyward.Errorf(keyward.EINVALID, "request body is empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return keyward.Errorf(keyward.EINVALID, "request body is truncated")
	case errors.As(err, &syntax):
		return keyward.Errorf(keyward.EINVALID, "malformed JSON at byte %d", syntax.Offset)
	case errors.As(err, &typ):
		return keyward.Errorf(keyward.EINVALID, "wrong JSON type at byte %d", typ.Offset)
	case errors.As(err, &invalid):
		return fmt.Errorf("httpapi: decoding into %v: %w", invalid.Type, err) // a bug of ours: internal
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return keyward.Errorf(keyward.EINVALID, "request body has an unknown field")
	}
	return keyward.Errorf(keyward.EINVALID, "invalid request body")
}

func isTooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

// decodeBody decodes the request body into v.
func decodeBody(r *http.Request, v any) error { return decodeJSON(r.Body, v) }

// decodeEmpty accepts a route that takes no input: an empty body or "{}".
func decodeEmpty(r *http.Request) error { return decodeOptional(r, &struct{}{}) }

// decodeOptional decodes the body into v like decodeBody, but leaves v as
// it is when the body is empty: for routes whose every input is optional.
func decodeOptional(r *http.Request, v any) error {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		if isTooLarge(err) {
			return errBodyTooLarge
		}
		return keyward.Errorf(keyward.EINVALID, "cannot read request body")
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	return decodeJSON(bytes.NewReader(b), v)
}

// writeJSON answers with status and v as JSON. Marshalling happens before
// anything is written, so a failure can still become a 500.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("httpapi: encoding response: %w", err)
	}
	writeRaw(w, status, b)
	return nil
}

func writeRaw(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	_, _ = w.Write([]byte{'\n'})
}

// noContent answers 204.
func noContent(w http.ResponseWriter) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// query reads query parameters strictly: unknown or repeated parameters and
// values that do not parse are EINVALID. Read every parameter the route
// accepts, then call check.
type query struct {
	vals  url.Values
	known map[string]bool
	err   error
}

func newQuery(r *http.Request) *query {
	q := &query{known: map[string]bool{}}
	vals, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		q.err = keyward.Errorf(keyward.EINVALID, "malformed query string")
	}
	q.vals = vals
	return q
}

func (q *query) fail(name, what string) {
	if q.err == nil {
		q.err = keyward.Errorf(keyward.EINVALID, "query parameter %s must be %s", name, what)
	}
}

// str returns the parameter's value, "" when absent.
func (q *query) str(name string) string {
	q.known[name] = true
	vs := q.vals[name]
	switch len(vs) {
	case 0:
		return ""
	case 1:
		return vs[0]
	}
	q.fail(name, "given once")
	return ""
}

// int64 returns a decimal integer >= 0, 0 when absent.
func (q *query) int64(name string) int64 {
	s := q.str(name)
	if s == "" {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		q.fail(name, "a non-negative integer")
		return 0
	}
	return n
}

func (q *query) int(name string) int {
	n := q.int64(name)
	if n > 1<<31-1 {
		q.fail(name, "a non-negative integer")
		return 0
	}
	return int(n)
}

// bool returns true for "true", false for "false" or absence.
func (q *query) bool(name string) bool {
	switch q.str(name) {
	case "", "false":
		return false
	case "true":
		return true
	}
	q.fail(name, `"true" or "false"`)
	return false
}

// time returns an RFC 3339 time, nil when absent.
func (q *query) time(name string) *time.Time {
	s := q.str(name)
	if s == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		q.fail(name, "an RFC 3339 time")
		return nil
	}
	return &t
}

// day returns a UTC day given as YYYY-MM-DD (keyward.DayFormat), the zero
// time when absent.
func (q *query) day(name string) time.Time {
	s := q.str(name)
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(keyward.DayFormat, s)
	if err != nil {
		q.fail(name, "a day as YYYY-MM-DD")
		return time.Time{}
	}
	return t
}

// page reads limit and position.
func (q *query) page() keyward.Page {
	return keyward.Page{Limit: q.int("limit"), Position: q.str("position")}
}

// check reports the first bad parameter, or an unknown one.
func (q *query) check() error {
	if q.err != nil {
		return q.err
	}
	for name := range q.vals {
		if !q.known[name] {
			return keyward.Errorf(keyward.EINVALID, "unknown query parameter") // the name is the client's: not echoed
		}
	}
	return nil
}
