package cli

import (
	"github.com/spf13/cobra"

	"github.com/keyward/keyward"
)

// maxPageLimit is the largest page the admin API serves.
const maxPageLimit = 500

// pageFlags are --limit and --all of the list commands.
type pageFlags struct {
	limit int
	all   bool
}

func (p *pageFlags) register(cmd *cobra.Command) {
	cmd.Flags().IntVar(&p.limit, "limit", 0, "number of items per page (default: the server's, 25; at most 500)")
	cmd.Flags().BoolVar(&p.all, "all", false, "follow pages until the end")
}

func (p *pageFlags) check() error {
	if p.limit < 0 || p.limit > maxPageLimit {
		return usagef("--limit must be between 1 and %d", maxPageLimit)
	}
	return nil
}

// collect calls fetch for one page, or for every page with --all, and
// returns the items and the position of the page after them ("" at the end).
func collect[T any](e *env, p pageFlags, fetch func(keyward.Page) ([]T, string, error)) ([]T, string, error) {
	if err := p.check(); err != nil {
		return nil, "", err
	}
	all := []T{}
	page := keyward.Page{Limit: p.limit}
	for {
		items, next, err := fetch(page)
		if err != nil {
			return nil, "", err
		}
		all = append(all, items...)
		if next == "" || !p.all {
			return all, next, nil
		}
		if next == page.Position {
			return nil, "", keyward.Errorf(keyward.EINTERNAL, "the server returned the same page twice")
		}
		page.Position = next
	}
}

// moreHint tells people, on stderr, that a list was cut at a page boundary.
func (e *env) moreHint(next string) {
	if next != "" {
		warnf(e.stderr, "more results: use --all to list them all")
	}
}
