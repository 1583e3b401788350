package core_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestOneAuditedCommitPath holds the core's writes to one path: only
// commit.go opens a write transaction or appends an audit record, and the
// functions that may call the path's entry points are a closed list. A new
// operation that writes any other way fails here before it can ship.
func TestOneAuditedCommitPath(t *testing.T) {
	allowed := map[string][]string{
		// callee: the functions allowed to call it
		"store.Update":   {"appendWith", "writeUnaudited"},
		"audit.Append":   {"appendWith"},
		"appendWith":     {"commit", "recordFailure"},
		"commit":         {"run", "system", "commitStep", "retirePrevious", "RecordAuthFailures"},
		"writeUnaudited": {"RecordUsage", "notice", "Checkpoint"},
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				c, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				callee := calleeName(c.Fun)
				callers, watched := allowed[callee]
				if !watched {
					return true
				}
				seen[callee] = true
				if !slices.Contains(callers, fn.Name.Name) {
					t.Errorf("%s: %s calls %s; only %v may", fset.Position(c.Pos()), fn.Name.Name, callee, callers)
				}
				return true
			})
		}
	}
	for callee := range allowed {
		if !seen[callee] {
			t.Errorf("%s is never called: the test no longer sees the path", callee)
		}
	}
}

// calleeName names a call's target as the test's table does: s.commit is
// "commit", s.store.Update "store.Update", audit.Append "audit.Append".
func calleeName(e ast.Expr) string {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok {
		if id, ok := e.(*ast.Ident); ok {
			return id.Name
		}
		return ""
	}
	switch x := sel.X.(type) {
	case *ast.Ident:
		if x.Name == "audit" {
			return "audit." + sel.Sel.Name
		}
		return sel.Sel.Name
	case *ast.SelectorExpr:
		return x.Sel.Name + "." + sel.Sel.Name
	}
	return sel.Sel.Name
}
