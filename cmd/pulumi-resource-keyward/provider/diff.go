package provider

import (
	"reflect"
	"slices"
	"time"

	p "github.com/pulumi/pulumi-go-provider"
)

// differ collects the changed inputs of one resource. Callers hand it
// normalized values (see the norm* functions of each resource), so "unset",
// a default and an empty list compare equal.
type differ struct {
	replace map[string]bool
	diff    map[string]p.PropertyDiff
}

func newDiffer(typ string) *differ {
	return &differ{replace: replaceFields[typ], diff: map[string]p.PropertyDiff{}}
}

// field records name as changed when old and new differ.
func (d *differ) field(name string, old, new any) {
	if reflect.DeepEqual(old, new) {
		return
	}
	kind := p.Update
	switch oz, nz := isZero(old), isZero(new); {
	case oz && !nz:
		kind = p.Add
	case !oz && nz:
		kind = p.Delete
	}
	if d.replace[name] {
		kind = map[p.DiffKind]p.DiffKind{p.Add: p.AddReplace, p.Delete: p.DeleteReplace, p.Update: p.UpdateReplace}[kind]
	}
	d.diff[name] = p.PropertyDiff{Kind: kind, InputDiff: true}
}

// replaces reports whether a recorded change replaces the resource.
func (d *differ) replaces() bool {
	for name := range d.diff {
		if d.replace[name] {
			return true
		}
	}
	return false
}

func (d *differ) response() p.DiffResponse {
	return p.DiffResponse{HasChanges: len(d.diff) > 0, DetailedDiff: d.diff}
}

func isZero(v any) bool {
	rv := reflect.ValueOf(v)
	if !rv.IsValid() || rv.IsZero() {
		return true
	}
	switch rv.Kind() {
	case reflect.Slice, reflect.Map:
		return rv.Len() == 0
	}
	return false
}

func ptr[T any](v T) *T { return &v }

func deref[T any](v *T) T {
	if v == nil {
		var zero T
		return zero
	}
	return *v
}

// sortedSet returns s sorted and without duplicates, nil when empty: the
// normal form of lists whose order means nothing.
func sortedSet(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

// normMap returns nil for an empty map.
func normMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

// normTime returns an RFC 3339 time as one canonical string (UTC,
// nanoseconds when present), so "2030-01-01T01:00:00+01:00" and
// "2030-01-01T00:00:00Z" compare equal. Unparseable text is returned as is
// (Check reports it).
func normTime(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// keep returns old when it means the same as current (norm of both equal),
// else current: Read then keeps the program's spelling and reports only
// real drift.
func keep[T any](old, current T, norm func(T) T) T {
	if reflect.DeepEqual(norm(old), norm(current)) {
		return old
	}
	return current
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
