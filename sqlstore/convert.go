package sqlstore

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/keyward/keyward"
)

// timeFormat is RFC 3339 with a fixed nine-digit fraction: stored in UTC, it
// sorts as text in time order and keeps nanoseconds.
const timeFormat = "2006-01-02T15:04:05.000000000Z07:00"

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

// FormatTime is how the store writes times: fixed width, so that they sort
// as text.
func FormatTime(t time.Time) string { return formatTime(t) }

// nullTime is the column value of an optional time.
func nullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return formatTime(*t)
}

// timeCol scans a time column into *t, in UTC.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(src any) error {
	s, err := text(src)
	if err != nil {
		return err
	}
	*c.t, err = time.Parse(time.RFC3339Nano, s)
	return err
}

// nullTimeCol scans an optional time column: NULL gives nil.
type nullTimeCol struct{ t **time.Time }

func (c nullTimeCol) Scan(src any) error {
	if src == nil {
		*c.t = nil
		return nil
	}
	var t time.Time
	if err := (timeCol{&t}).Scan(src); err != nil {
		return err
	}
	*c.t = &t
	return nil
}

// jsonArg is the column value of v as JSON, NULL when v marshals to null (a
// nil pointer, slice or map), so that nil and empty round-trip apart.
func jsonArg(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if string(b) == "null" {
		return nil, nil
	}
	return string(b), nil
}

// jsonCol scans a JSON column into v; NULL leaves v as it is (its zero value).
type jsonCol struct{ v any }

func (c jsonCol) Scan(src any) error {
	if src == nil {
		return nil
	}
	s, err := text(src)
	if err != nil {
		return err
	}
	return json.Unmarshal([]byte(s), c.v)
}

func text(src any) (string, error) {
	switch v := src.(type) {
	case string:
		return v, nil
	case []byte:
		return string(v), nil
	}
	return "", fmt.Errorf("unexpected column type %T", src)
}

// blobArg is the column value of an optional byte string: NULL when empty.
func blobArg(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// Page positions are the last ordering key of the previous page, opaque to
// clients.

func encodePosition(key string) string { return base64.RawURLEncoding.EncodeToString([]byte(key)) }

func decodePosition(pos string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(pos)
	if err != nil {
		return "", keyward.Errorf(keyward.EINVALID, "invalid page position")
	}
	return string(b), nil
}

// pageOf trims items, read with a limit one above the page size, to the
// page, and returns the position of the next page ("" when none).
func pageOf[T any](items []T, limit int, key func(T) string) ([]T, string) {
	if len(items) <= limit {
		return items, ""
	}
	items = items[:limit]
	return items, encodePosition(key(items[limit-1]))
}

// listPage reads the first limit+1 items after p's position with list.
func listPage[T any](p keyward.Page, key func(T) string, list func(after string, limit int) ([]T, error)) ([]T, string, error) {
	p = p.Normalized()
	after, err := decodePosition(p.Position)
	if err != nil {
		return nil, "", err
	}
	items, err := list(after, p.Limit+1)
	if err != nil {
		return nil, "", err
	}
	items, next := pageOf(items, p.Limit, key)
	return items, next, nil
}

// Lists ordered newest first (rotations, deliveries) order by (created_at,
// id) descending, and their position holds both: the time as stored (which
// has no space), a space, then the ID.

func newestKey(created time.Time, id string) string { return formatTime(created) + " " + id }

// newestAfter returns the condition, and its arguments, that a row comes
// after the position key after in such a list: none for the first page. A
// key that is not of that form is EINVALID.
func newestAfter(after string) (string, []any, error) {
	if after == "" {
		return "", nil, nil
	}
	created, id, ok := strings.Cut(after, " ")
	t, err := time.Parse(time.RFC3339Nano, created)
	if !ok || err != nil {
		return "", nil, keyward.Errorf(keyward.EINVALID, "invalid page position")
	}
	return ` AND (created_at, id) < (?, ?)`, []any{formatTime(t), id}, nil
}

// Errors. Constraint failures become domain errors whose messages name the
// resource kind and its ID or name, never a digest or a value; anything else
// is wrapped, and so internal.

func notFound(kind, id string) error {
	return keyward.Errorf(keyward.ENOTFOUND, "%s %q not found", kind, id)
}

func conflict(format string, args ...any) error {
	return keyward.Errorf(keyward.ECONFLICT, format, args...)
}

func internal(op string, err error) error { return fmt.Errorf("store: %s: %w", op, err) }

// jsonMemo decodes a JSON column row after row, reusing the value decoded
// last when the text is the same: a million keys bound alike cost one
// decode, not a million, and share what it made. Whoever reads the rows
// must not modify what they get.
type jsonMemo[T any] struct {
	last string
	have bool
	v    T
}

// col scans the column into dst through the memo.
func (m *jsonMemo[T]) col(dst *T) memoCol[T] { return memoCol[T]{m, dst} }

type memoCol[T any] struct {
	m   *jsonMemo[T]
	dst *T
}

func (c memoCol[T]) Scan(src any) error {
	var zero T
	if src == nil {
		*c.dst = zero
		return nil
	}
	s, err := text(src)
	if err != nil {
		return err
	}
	if c.m.have && s == c.m.last {
		*c.dst = c.m.v
		return nil
	}
	v := zero
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return err
	}
	c.m.last, c.m.have, c.m.v = s, true, v
	*c.dst = v
	return nil
}
