package keyimport

import (
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
)

func readAll(t *testing.T, in string) ([]string, error) {
	t.Helper()
	r, err := NewReader(strings.NewReader(in))
	if err != nil {
		return nil, err
	}
	var out []string
	for {
		row, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		en := "-"
		if row.Enabled != nil {
			en = map[bool]string{true: "on", false: "off"}[*row.Enabled]
		}
		out = append(out, strings.Join([]string{itoa(row.Line), row.Name, row.Value, row.Description, en, strings.Join(row.PlanIDs, "+")}, "|"))
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestReadsAWSShape(t *testing.T) {
	in := "\ufeffkey,NAME,description,Enabled,usageplanIds\n" +
		"sk-aaaaaaaaaaaaaaaaaaaaaaaa,alpha,first,true,plan_1;plan_2\n" +
		"\"sk-bbbbbbbbbbbbbbbbbbbbbbbb\",beta,\"with, comma\",FALSE,\n" +
		"sk-cccccccccccccccccccccccc,gamma,,,\"p1, p2\"\n"
	got, err := readAll(t, in)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"2|alpha|sk-aaaaaaaaaaaaaaaaaaaaaaaa|first|on|plan_1+plan_2",
		"3|beta|sk-bbbbbbbbbbbbbbbbbbbbbbbb|with, comma|off|",
		"4|gamma|sk-cccccccccccccccccccccccc||-|p1+p2",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Only the required columns.
	if got, err := readAll(t, "Name,Key\nx,sk-dddddddddddddddddddddddd\n"); err != nil || len(got) != 1 {
		t.Errorf("Name,Key only: %v %v", got, err)
	}
}

// TestErrorsNameTheLineNeverTheValue: every refusal says where, and no
// message holds a cell's content (the cells are keys).
func TestErrorsNameTheLineNeverTheValue(t *testing.T) {
	const secret = "sk-SECRETSECRETSECRETSECRET"
	for _, tt := range []struct{ in, want string }{
		{"", "line 1: the file is empty"},
		{"Name\nx\n", "line 1: the header has no Key column"},
		{"Key\n" + secret + "\n", "line 1: the header has no Name column"},
		{"Name,Key,Secret\n", "line 1: unknown column 3"},
		{"Name,Key,name\n", "line 1: column \"name\" twice"},
		{"Name,Key\nx," + secret + "\ny\n", "line 3: wrong number of fields"},
		{"Name,Key,Enabled\nx," + secret + ",yes\n", "line 2: Enabled must be true or false"},
		{"Name,Key\nx,\"" + secret + "\n", "line 2: malformed quotes"},
		{"Name,Key\nx,ab\"" + secret + "\n", "line 2: malformed quotes"},
	} {
		_, err := readAll(t, tt.in)
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%q: %v, want %q", tt.in, err, tt.want)
			continue
		}
		if strings.Contains(err.Error(), "SECRET") {
			t.Errorf("%q: the error holds a value: %v", tt.in, err)
		}
	}
}
