package cli

import (
	"encoding/json"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward"
)

// defaultAuditPage is the page the server serves when no --limit is given.
const defaultAuditPage = 100

func newAuditListCmd() *cobra.Command {
	var (
		f            keyward.AuditFilter
		principal    string
		next         string
		since, until = timeFlag{}, timeFlag{endOfDay: true}
	)
	cmd := &cobra.Command{
		Use:   "list [flags]",
		Short: "List audit records, newest first",
		Long: `List audit records, newest first. A page holds --limit records (default
100); when older records may follow, the command ends by printing, on
stderr, the token of the next page: run it again with --next TOKEN and the
same filters to read on. New records never shift the pages.

--since and --until bound the event time, both included: an RFC 3339 time,
a UTC day as YYYY-MM-DD (--until includes the whole day), or a duration
before now such as 90m, 2h or 7d. --principal takes a principal's name or
ID; an ID also finds the records of a deleted principal.`,
		Example: `  keyward audit list --since 1d --principal ci
  keyward audit list --next 4711
  keyward audit list --event-name apikeys:Create --since 2025-03-01 --until 2025-03-31 -o json`,
		Args: exactArgs(),
		RunE: run(func(e *env, _ []string) error {
			if f.AfterSeq < 0 {
				return usagef("--after must not be negative")
			}
			if f.Limit < 0 || f.Limit > maxAuditPage {
				return usagef("--limit must be between 1 and %d", maxAuditPage)
			}
			if next != "" {
				seq, err := strconv.ParseInt(next, 10, 64)
				if err != nil || seq <= 0 {
					return usagef("--next %q is not a page token of audit list", next)
				}
				f.BeforeSeq = seq
			}
			now := e.now()
			f.Since, f.Until = since.at(now), until.at(now)
			if f.Since != nil && f.Until != nil && f.Until.Before(*f.Since) {
				return usagef("--until is before --since")
			}
			f.Descending = true
			c, err := e.client()
			if err != nil {
				return err
			}
			if principal != "" {
				if f.PrincipalID, err = principalID(e, c, principal); err != nil {
					return err
				}
			}
			recs, err := c.ListAudit(e.ctx, f)
			if err != nil {
				return err
			}
			if recs == nil {
				recs = []*keyward.AuditRecord{}
			}
			if err := e.out(recs, func(w io.Writer) error { return printAudit(w, recs) }); err != nil {
				return err
			}
			if token := nextAuditPage(f, recs); token != "" {
				warnf(e.stderr, "older records may follow: run again with --next %s (and the same filters)", token)
			}
			return nil
		}),
	}
	fl := cmd.Flags()
	fl.Int64Var(&f.AfterSeq, "after", 0, "only records after this sequence number")
	fl.IntVar(&f.Limit, "limit", 0, "number of records a page (default 100, at most 1000)")
	fl.StringVar(&f.EventName, "event-name", "", "only this action, e.g. apikeys:Create")
	fl.StringVar(&principal, "principal", "", "only calls by this principal (name or ID)")
	fl.Var(&since, "since", "only records from this time on: RFC 3339, YYYY-MM-DD (UTC) or a duration ago (2h, 7d)")
	fl.Var(&until, "until", "only records up to this time: RFC 3339, YYYY-MM-DD (UTC, the whole day) or a duration ago")
	fl.StringVar(&next, "next", "", "page token printed at the end of the previous page")
	return cmd
}

// nextAuditPage returns the token of the page after recs, or "" when recs
// is the last one. A page is newest first, so the next one holds what lies
// below its oldest record: the token is that record's Seq.
func nextAuditPage(f keyward.AuditFilter, recs []*keyward.AuditRecord) string {
	limit := f.Limit
	if limit == 0 {
		limit = defaultAuditPage
	}
	if len(recs) < limit {
		return ""
	}
	oldest := recs[len(recs)-1].Seq
	if oldest <= f.AfterSeq+1 {
		return "" // nothing is left above the lower bound
	}
	return strconv.FormatInt(oldest, 10)
}

// principalID returns the ID of the principal ref names. An ID is taken as
// it is, so that the records of a principal since deleted stay reachable.
func principalID(e *env, c Client, ref string) (string, error) {
	if strings.HasPrefix(ref, "prn_") {
		return ref, nil
	}
	p, err := c.GetPrincipal(e.ctx, ref)
	if err != nil {
		return "", err
	}
	return p.ID, nil
}

func printAudit(w io.Writer, recs []*keyward.AuditRecord) error {
	t := newTable(w, "SEQ", "TIME", "EVENT", "PRINCIPAL", "SOURCE IP", "ERROR")
	for _, r := range recs {
		var ev keyward.AuditEvent
		if err := json.Unmarshal(r.Event, &ev); err != nil {
			t.row(strconv.FormatInt(r.Seq, 10), "?", "(unreadable event)", "", "", "")
			continue
		}
		who := labelled(ev.UserIdentity.PrincipalID, ev.UserIdentity.UserName)
		if who == "" {
			who = ev.UserIdentity.UserName
		}
		if who == "" {
			who = ev.UserIdentity.Type
		}
		t.row(strconv.FormatInt(r.Seq, 10), fmtTime(ev.EventTime), ev.EventName, who, ev.SourceIPAddress, ev.ErrorCode)
	}
	return t.flush()
}
