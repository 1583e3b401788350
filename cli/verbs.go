package cli

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward"
)

// The builders below make the verbs that most nouns share: "get REF",
// "list" and "delete REF". They take the Client's method as a method
// expression (Client.GetAPI, Client.ListAPIs, Client.DeleteAPI). Verbs with
// flags or output of their own are written out in full instead.

// getCmd returns "get ARG": fetch one object by name or ID and print it with
// show, or as JSON. show gets the names of the objects it refers to.
func getCmd[T any](arg, short string, get func(Client, context.Context, string) (T, error), show func(io.Writer, T, *names) error) *cobra.Command {
	return refCmd("get", arg, short, func(e *env, c Client, ref string) error {
		v, err := get(c, e.ctx, ref)
		if err != nil {
			return err
		}
		return e.out(v, func(w io.Writer) error { return show(w, v, newNames(e.ctx, c)) })
	})
}

// namesUnused adapts a printer of an object that refers to no other object.
func namesUnused[T any](show func(io.Writer, T) error) func(io.Writer, T, *names) error {
	return func(w io.Writer, v T, _ *names) error { return show(w, v) }
}

// listCmd returns "list" with --limit and --all: the objects print as a
// table with header and one row of cells each, or as a JSON array. row gets
// the names of the objects a row refers to.
func listCmd[T any](short string, list func(Client, context.Context, keyward.Page) ([]T, string, error), header []string, row func(T, *names) []string) *cobra.Command {
	var page pageFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: short,
		Args:  exactArgs(),
		RunE: run(func(e *env, _ []string) error {
			if err := page.check(); err != nil {
				return err
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			items, next, err := collect(e, page, func(p keyward.Page) ([]T, string, error) {
				return list(c, e.ctx, p)
			})
			if err != nil {
				return err
			}
			e.moreHint(next)
			return e.out(items, func(w io.Writer) error {
				n := newNames(e.ctx, c)
				t := newTable(w, header...)
				for _, it := range items {
					t.row(row(it, n)...)
				}
				return t.flush()
			})
		}),
	}
	page.register(cmd)
	return cmd
}

// deleteCmd returns "delete ARG". It prints "<label> REF deleted.", or
// {"<jsonKey>": REF, "deleted": true} with -o json.
func deleteCmd(arg, short, jsonKey, label string, del func(Client, context.Context, string) error) *cobra.Command {
	return refCmd("delete", arg, short, func(e *env, c Client, ref string) error {
		if err := del(c, e.ctx, ref); err != nil {
			return err
		}
		return e.done(map[string]any{jsonKey: ref, "deleted": true}, label+" %s deleted.", sanitizeLine(ref))
	})
}

// refCmd returns "VERB ARG", whose body gets a client and the one argument.
func refCmd(verb, arg, short string, body func(e *env, c Client, ref string) error) *cobra.Command {
	return &cobra.Command{
		Use:   verb + " " + arg,
		Short: short,
		Args:  exactArgs(arg),
		RunE: run(func(e *env, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			return body(e, c, args[0])
		}),
	}
}
