// Package keyimport reads the CSV files of AWS API Gateway's
// ImportApiKeys into rows to import: a header row naming the columns (Name
// and Key required; Description, Enabled, UsagePlanIds optional; any order,
// any case), then one key per row. The file is untrusted input and holds
// secrets: errors name a line and a column, never a cell's content.
package keyimport

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/keyward/keyward"
)

// Error is a problem with the file, at a line (1 is the header).
type Error struct {
	Line   int
	Reason string
}

func (e *Error) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Reason) }

// MaxFileRows bounds one file: a million keys and then some.
const MaxFileRows = 10_000_000

// Reader reads rows one at a time, so that a file of a million keys is
// never held whole.
type Reader struct {
	r       *csv.Reader
	columns map[string]int // column name (lower case) -> index
	rows    int
}

// NewReader reads and checks the header.
func NewReader(r io.Reader) (*Reader, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, &Error{Line: 1, Reason: "the file is empty: want a header row (Name,Key,Description,Enabled,UsagePlanIds)"}
	}
	if err != nil {
		return nil, parseError(err, 1)
	}
	cols := map[string]int{}
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		switch name {
		case "name", "key", "description", "enabled", "usageplanids":
		default:
			return nil, &Error{Line: 1, Reason: fmt.Sprintf("unknown column %d in the header: want Name, Key, Description, Enabled, UsagePlanIds", i+1)}
		}
		if _, dup := cols[name]; dup {
			return nil, &Error{Line: 1, Reason: fmt.Sprintf("column %q twice in the header", name)}
		}
		cols[name] = i
	}
	for _, need := range []string{"name", "key"} {
		if _, ok := cols[need]; !ok {
			return nil, &Error{Line: 1, Reason: fmt.Sprintf("the header has no %s column", strings.ToUpper(need[:1])+need[1:])}
		}
	}
	cr.FieldsPerRecord = len(header)
	return &Reader{r: cr, columns: cols}, nil
}

// Next returns the next row, or io.EOF after the last.
func (r *Reader) Next() (keyward.KeyImportRow, error) {
	rec, err := r.r.Read()
	if errors.Is(err, io.EOF) {
		return keyward.KeyImportRow{}, io.EOF
	}
	if err != nil {
		return keyward.KeyImportRow{}, parseError(err, 0)
	}
	line, _ := r.r.FieldPos(0)
	if r.rows++; r.rows > MaxFileRows {
		return keyward.KeyImportRow{}, &Error{Line: line, Reason: fmt.Sprintf("more than %d rows", MaxFileRows)}
	}
	cell := func(name string) string {
		if i, ok := r.columns[name]; ok {
			return rec[i]
		}
		return ""
	}
	row := keyward.KeyImportRow{Line: line, Name: strings.TrimSpace(cell("name")), Value: cell("key"),
		Description: cell("description")}
	switch strings.ToLower(strings.TrimSpace(cell("enabled"))) {
	case "":
	case "true":
		row.Enabled = ptr(true)
	case "false":
		row.Enabled = ptr(false)
	default:
		return keyward.KeyImportRow{}, &Error{Line: line, Reason: "Enabled must be true or false"}
	}
	row.PlanIDs = strings.FieldsFunc(cell("usageplanids"), func(c rune) bool { return c == ';' || c == ',' || c == ' ' })
	return row, nil
}

func ptr[T any](v T) *T { return &v }

// parseError reports a CSV syntax error by line and column only: Go's
// csv.ParseError never quotes the input, and neither does this.
func parseError(err error, line int) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		reason := "malformed CSV"
		switch {
		case errors.Is(pe.Err, csv.ErrFieldCount):
			reason = "wrong number of fields (every row has as many as the header)"
		case errors.Is(pe.Err, csv.ErrQuote), errors.Is(pe.Err, csv.ErrBareQuote):
			reason = fmt.Sprintf("malformed quotes at column %d", pe.Column)
		}
		return &Error{Line: pe.Line, Reason: reason}
	}
	return &Error{Line: line, Reason: "cannot read the file"}
}
