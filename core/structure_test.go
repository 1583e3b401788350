package core_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
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
		"writer.Update":  {"appendWith", "writeUnaudited"},
		"audit.Append":   {"appendWith"},
		"appendWith":     {"commit", "recordFailure"},
		"commit":         {"run", "system", "commitStep", "retirePrevious", "RecordAuthFailures"},
		"writeUnaudited": {"RecordUsage", "notice", "Checkpoint", "Update"}, // Update: the dispatcher's DeliveryStore
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
		// The services hold the store as a reader, without Update; the
		// writer field, which has it, is for commit.go alone. Any other use
		// of it (an alias included) is a second write path.
		if name != "commit.go" {
			ast.Inspect(f, func(n ast.Node) bool {
				if sel, ok := n.(*ast.SelectorExpr); ok && sel.Sel.Name == "writer" {
					t.Errorf("%s: uses the store's writer outside commit.go", fset.Position(sel.Pos()))
				}
				return true
			})
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

// TestNoWriteOutsideTheCore is a tripwire for the rest of the module: a
// function taking a keyward.Tx handed to an Update call is a write
// transaction, and outside the store adapters and their conformance suite
// the only one allowed is the webhook dispatcher's, which server wires to
// the core's DeliveryStore (through writeUnaudited).
func TestNoWriteOutsideTheCore(t *testing.T) {
	allowed := map[string]bool{"webhook/dispatcher.go": true}
	skipDirs := map[string]bool{"sqlite": true, "storetest": true, "core": true, ".git": true, ".ci": true, "testdata": true}
	fset := token.NewFileSet()
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("..", path)
		if d.IsDir() {
			if skipDirs[d.Name()] || (rel != "." && fileExists(filepath.Join(path, "go.mod"))) {
				return filepath.SkipDir // other modules (the Pulumi provider) have no store
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			c, ok := n.(*ast.CallExpr)
			if !ok || calleeName(c.Fun) == "" || !strings.HasSuffix(calleeName(c.Fun), "Update") {
				return true
			}
			for _, arg := range c.Args {
				if lit, ok := arg.(*ast.FuncLit); ok && takesTx(lit) && !allowed[filepath.ToSlash(rel)] {
					t.Errorf("%s: a write transaction outside the core", fset.Position(c.Pos()))
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// takesTx reports whether a function literal has a keyward.Tx parameter.
func takesTx(lit *ast.FuncLit) bool {
	for _, p := range lit.Type.Params.List {
		if sel, ok := p.Type.(*ast.SelectorExpr); ok && sel.Sel.Name == "Tx" {
			if x, ok := sel.X.(*ast.Ident); ok && x.Name == "keyward" {
				return true
			}
		}
	}
	return false
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
