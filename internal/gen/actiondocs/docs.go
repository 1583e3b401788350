package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/httpapi"
	"github.com/keyward/keyward/policy"
)

// The generated part of README.md sits between these two lines.
const (
	beginMarker = "<!-- BEGIN actiondocs: generated from the action table by `go run ./internal/gen/actiondocs`; do not edit -->"
	endMarker   = "<!-- END actiondocs -->"
)

// section renders the actions table and the built-in roles table: every
// column is read from the action table, the route table and the built-in
// role documents, never written by hand.
func section() string {
	routes := map[keyward.Action][]string{}
	for _, rt := range httpapi.Routes() {
		if !rt.Public {
			routes[rt.Action] = append(routes[rt.Action], "`"+rt.Method+" "+rt.Pattern+"`")
		}
	}
	roles := policy.BuiltIns()
	byRole := map[string][]string{}

	var b strings.Builder
	b.WriteString("| Action | Resource | Read-only | Routes | Built-in roles that allow it |\n")
	b.WriteString("| --- | --- | --- | --- | --- |\n")
	for _, s := range keyward.ActionSpecs() {
		var allowed []string
		for _, r := range roles {
			req := keyward.AuthzRequest{Action: s.Action, Resource: s.Resource.ARN("x")}
			if policy.Decide([]keyward.PolicyDocument{r.Document}, req) == policy.Allow {
				allowed = append(allowed, r.Name)
			}
		}
		for _, r := range roles {
			if slices.Contains(allowed, r.Name) {
				byRole[r.Name] = append(byRole[r.Name], "`"+string(s.Action)+"`")
			}
		}
		resources := "`" + s.Resource.Form() + "`"
		for _, t := range s.AlsoOn {
			resources += " and `" + t.Form() + "`"
		}
		where := strings.Join(routes[s.Action], ", ")
		for i, w := range s.With {
			if i == 0 {
				where = "checked with "
			} else {
				where += ", "
			}
			where += "`" + string(w) + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", s.Action, resources, readOnly(s), where, strings.Join(allowed, ", "))
	}
	b.WriteString("\n| Role | What it may do | Actions it is allowed |\n| --- | --- | --- |\n")
	for _, r := range roles {
		fmt.Fprintf(&b, "| **%s** | %s | %s |\n", r.Name, r.Description, strings.Join(byRole[r.Name], " "))
	}
	return b.String()
}

func readOnly(s keyward.ActionSpec) string {
	switch {
	case s.RevealsValue:
		return "yes, reveals a value"
	case s.ReadOnly:
		return "yes"
	case s.SetsValue:
		return "no, sets a value the caller knows"
	case s.ChangesAuth:
		return "no, changes who may do what"
	}
	return "no"
}

// splice returns readme with the text between the markers replaced by
// generated.
func splice(readme, generated string) (string, error) {
	before, rest, ok := strings.Cut(readme, beginMarker+"\n")
	if !ok {
		return "", errors.New("README.md has no line " + beginMarker)
	}
	_, after, ok := strings.Cut(rest, endMarker)
	if !ok {
		return "", errors.New("README.md has no line " + endMarker + " after the begin marker")
	}
	return before + beginMarker + "\n" + generated + endMarker + after, nil
}
