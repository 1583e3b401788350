package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
)

// Output formats.
const (
	formatTable = "table"
	formatJSON  = "json"
)

// writeJSON prints v as indented JSON followed by a newline. Field names come
// from the domain types' tags, so the shape is stable for scripts.
// HTML characters are not escaped: values such as upstream URLs with "&"
// print as they are.
func writeJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return localf("encode output: %v", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// merge marshals v (a struct) to a JSON object and adds extra fields to it, so
// that one-time values (a key's value, a principal's token) sit next to the
// fields of the object they belong to. Extra fields with a nil value are left
// out entirely.
func merge(v any, extra map[string]any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, localf("encode output: %v", err)
	}
	m := map[string]any{}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // keep large integers exact
	if err := dec.Decode(&m); err != nil {
		return nil, localf("encode output: %v", err)
	}
	for k, x := range extra {
		if x != nil {
			m[k] = x
		}
	}
	return m, nil
}

// table writes aligned columns. Every cell is sanitized: names, descriptions
// and audit fields come from clients and must not move the cursor or forge
// lines on the reader's terminal.
type table struct {
	tw *tabwriter.Writer
}

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)}
	if len(header) > 0 {
		fmt.Fprintln(t.tw, strings.Join(header, "\t"))
	}
	return t
}

// row adds one row; empty cells print as "-".
func (t *table) row(cells ...string) {
	for i, c := range cells {
		cells[i] = cell(c)
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

// fields prints one object as "Label:  value" lines.
type fields struct{ t *table }

func newFields(w io.Writer) *fields { return &fields{t: newTable(w)} }

func (f *fields) add(label, value string) { f.t.row(label+":", value) }

func (f *fields) flush() error { return f.t.flush() }

// cell makes s safe and visible in a table cell.
func cell(s string) string {
	if s == "" {
		return "-"
	}
	return sanitizeLine(s)
}

// sanitizeLine replaces control characters (tabs, newlines, escape
// sequences) with a visible placeholder.
func sanitizeLine(s string) string {
	if strings.IndexFunc(s, unicode.IsControl) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '\uFFFD'
		}
		return r
	}, s)
}

// fmtTime prints a time in UTC, RFC 3339, or "-" for the zero time.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// fmtTimePtr prints an optional time; nil prints as none.
func fmtTimePtr(t *time.Time, none string) string {
	if t == nil {
		return none
	}
	return fmtTime(*t)
}

func fmtBool(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// fmtTags prints a map as "k=v, k=v" in key order.
func fmtTags(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ", ")
}

// warnf writes a one-line notice for people to stderr.
func warnf(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, "keyward: "+format+"\n", args...)
}
