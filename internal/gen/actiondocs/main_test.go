package main

import (
	"os"
	"strings"
	"testing"

	"github.com/keyward/keyward"
)

const readmePath = "../../../README.md"

// TestREADMEIsGenerated fails when README.md's actions section is not what
// the action table, the routes and the built-in roles generate.
func TestREADMEIsGenerated(t *testing.T) {
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	want, err := splice(string(readme), section())
	if err != nil {
		t.Fatal(err)
	}
	if want != string(readme) {
		t.Fatal("README.md's actions section is out of date: run `go run ./internal/gen/actiondocs` from the repository root")
	}
}

// TestSectionListsEveryAction guards the generator itself: one row per
// action of the table, in its order, each with a route.
func TestSectionListsEveryAction(t *testing.T) {
	var rows []string
	for _, l := range strings.Split(section(), "\n") {
		if strings.HasPrefix(l, "| `") {
			rows = append(rows, l)
		}
	}
	actions := keyward.Actions()
	if len(rows) != len(actions) {
		t.Fatalf("%d action rows, the table has %d actions", len(rows), len(actions))
	}
	for i, a := range actions {
		if !strings.HasPrefix(rows[i], "| `"+string(a)+"` |") {
			t.Errorf("row %d is %q, want action %s", i, rows[i], a)
		}
		spec, _ := a.Spec()
		if !strings.Contains(rows[i], "/v1/") && !(len(spec.With) > 0 && strings.Contains(rows[i], "checked with `")) {
			t.Errorf("row for %s lists no route and no action it is checked with", a)
		}
	}
	if !strings.Contains(section(), "| `apikeys:ReadValue` | `kw:apikey/<id>` | yes, reveals a value | `GET /v1/keys/{id}/value` | admin |") {
		t.Error("apikeys:ReadValue row is not as expected")
	}
}

func TestSplice(t *testing.T) {
	in := "intro\n" + beginMarker + "\nold\n" + endMarker + "\noutro\n"
	got, err := splice(in, "new\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := "intro\n" + beginMarker + "\nnew\n" + endMarker + "\noutro\n"; got != want {
		t.Errorf("splice = %q, want %q", got, want)
	}
	if _, err := splice("no markers", "x"); err == nil {
		t.Error("splice without markers did not fail")
	}
	if _, err := splice(beginMarker+"\nno end", "x"); err == nil {
		t.Error("splice without the end marker did not fail")
	}
}
