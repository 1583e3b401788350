// Command actiondocs rewrites the generated section of README.md (the
// actions and the built-in roles) from the action table. Run it from the
// repository root after changing an action, a route or a built-in role:
//
//	go run ./internal/gen/actiondocs
//
// Its test fails while README.md is out of date.
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	path := flag.String("readme", "README.md", "the README to rewrite")
	flag.Parse()
	if err := rewrite(*path); err != nil {
		fmt.Fprintln(os.Stderr, "actiondocs:", err)
		os.Exit(1)
	}
}

func rewrite(path string) error {
	old, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	updated, err := splice(string(old), section())
	if err != nil {
		return err
	}
	if updated == string(old) {
		return nil
	}
	return os.WriteFile(path, []byte(updated), 0o644)
}
