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

	"github.com/keyward/keyward"
)

// TestOneAuditedCommitPath holds the core's writes to one path: only
// commit.go opens a write transaction or appends an audit record, and the
// functions that may call the path's entry points are a closed list. A new
// operation that writes any other way fails here before it can ship.
func TestOneAuditedCommitPath(t *testing.T) {
	allowed := map[string][]string{
		// callee: the functions allowed to call it
		"writer.Update": {"appendWith", "writeUnaudited"},
		"alog.Append":   {"appendWith"},
		"appendWith":    {"commit", "recordFailure"},
		// PruneHistory: a system write whose empty batches are rolled back
		// without a record (write.quiet).
		"commit": {"run", "system", "commitStep", "retirePrevious", "RecordAuthFailures", "PruneHistory"},
		// Update: the dispatcher's DeliveryStore; upgrade and
		// checkpointLocked: the audit log's own tree and checkpoints.
		// heartbeat: the running rotations' UpdatedAt, so that a dead
		// process's rotation can be told from a slow one.
		"writeUnaudited": {"RecordUsage", "notice", "upgrade", "checkpointLocked", "Update", "heartbeat"},
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

// TestCollectionActionsMatchTheTable holds the action table's OnCollection
// to what the core checks: an admin call authorized on "kw:<type>/*" (a
// call{} whose resource is <Type>ARN("*")) is exactly an OnCollection
// action. Policy validation relies on it to refuse a Deny that could never
// apply.
func TestCollectionActionsMatchTheTable(t *testing.T) {
	consts := actionConstants(t)
	fset := token.NewFileSet()
	files, _ := filepath.Glob("*.go")
	seen := map[keyward.Action]bool{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if id, isIdent := typeIdent(lit); !ok || !isIdent || id != "call" {
				return true
			}
			var action keyward.Action
			collection := false
			for _, el := range lit.Elts {
				kv, ok := el.(*ast.KeyValueExpr)
				if !ok {
					continue
				}
				switch kv.Key.(*ast.Ident).Name {
				case "action":
					if sel, ok := kv.Value.(*ast.SelectorExpr); ok {
						action = consts[sel.Sel.Name]
					}
				case "resource":
					if c, ok := kv.Value.(*ast.CallExpr); ok && len(c.Args) == 1 {
						if b, ok := c.Args[0].(*ast.BasicLit); ok && b.Value == `"*"` {
							collection = true
						}
					}
				}
			}
			if action == "" {
				return true
			}
			spec, _ := action.Spec()
			if collection != spec.OnCollection {
				t.Errorf("%s: %s is authorized on %v, the table says OnCollection %v", fset.Position(lit.Pos()), action, map[bool]string{true: "kw:<type>/*", false: "one resource"}[collection], spec.OnCollection)
			}
			if collection {
				seen[action] = true
			}
			return true
		})
	}
	for _, s := range keyward.ActionSpecs() {
		if s.OnCollection && !seen[s.Action] {
			t.Errorf("%s is OnCollection in the table, but no call is authorized on kw:<type>/*", s.Action)
		}
	}
}

func typeIdent(lit *ast.CompositeLit) (string, bool) {
	if lit == nil {
		return "", false
	}
	id, ok := lit.Type.(*ast.Ident)
	if !ok {
		return "", false
	}
	return id.Name, true
}

// actionConstants reads the Action constants of the root package: name
// to value.
func actionConstants(t *testing.T) map[string]keyward.Action {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "../action.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]keyward.Action{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, sp := range g.Specs {
			vs := sp.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if i < len(vs.Values) {
					if b, ok := vs.Values[i].(*ast.BasicLit); ok {
						out[n.Name] = keyward.Action(strings.Trim(b.Value, `"`))
					}
				}
			}
		}
	}
	if len(out) < 50 {
		t.Fatalf("read %d action constants from ../action.go", len(out))
	}
	return out
}
