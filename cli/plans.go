package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward"
)

func newPlansCmd() *cobra.Command {
	return newNoun("plans", "Manage usage plans: throttles, quotas and token budgets",
		newPlansCreateCmd(),
		newPlansGetCmd(),
		newPlansListCmd(),
		newPlansUpdateCmd(),
		newPlansDeleteCmd(),
		newPlansAttachCmd(true),
		newPlansAttachCmd(false),
		newPlansKeysCmd(),
	)
}

func newPlansCreateCmd() *cobra.Command {
	var l limitFlags
	cmd := &cobra.Command{
		Use:   "create NAME [flags]",
		Short: "Create a usage plan",
		Example: `  keyward plans create gold --rate 10 --burst 20 --quota 100000/MONTH --stage chat/prod
  keyward plans create rotated --rotate-every 30d --rotation-grace 2d`,
		Args: exactArgs("NAME"),
		RunE: run(func(e *env, args []string) error {
			cmd := e.cmd
			if err := l.check(cmd); err != nil {
				return err
			}
			in := keyward.PlanCreate{Name: args[0], Description: l.description, APIStages: l.planStages()}
			if changed(cmd, "rate") != changed(cmd, "burst") {
				return usagef("--rate and --burst go together")
			}
			if changed(cmd, "rate") {
				in.Throttle = &keyward.Throttle{RateLimit: l.rate, BurstLimit: l.burst}
			}
			if changed(cmd, "quota-offset") && l.quota.q == nil {
				return usagef("--quota-offset needs --quota")
			}
			if l.quota.q != nil {
				q := *l.quota.q
				q.Offset = l.quotaOffset
				if err := checkQuotaOffset(q.Period, q.Offset); err != nil {
					return err
				}
				in.Quota = &q
			}
			if l.anyTokens(cmd) {
				in.Tokens = l.tokens(cmd, nil)
			}
			rot, err := l.rotation.policy(nil, "plan")
			if err != nil {
				return err
			}
			in.Rotation = rot
			c, err := e.client()
			if err != nil {
				return err
			}
			p, err := c.CreatePlan(e.ctx, in)
			if err != nil {
				return err
			}
			return e.out(p, func(w io.Writer) error { return printPlan(w, p, e.names()) })
		}),
	}
	l.register(cmd)
	return cmd
}

func printPlan(w io.Writer, p *keyward.UsagePlan, n *names) error {
	f := newFields(w)
	f.add("ID", p.ID)
	f.add("Name", p.Name)
	f.add("Description", p.Description)
	f.add("Throttle", fmtThrottle(p.Throttle))
	f.add("Quota", fmtQuota(p.Quota))
	f.add("Tokens", fmtTokens(p.Tokens))
	stages := make([]string, len(p.APIStages))
	for i, s := range p.APIStages {
		stages[i] = n.stage(s.APIID, s.Stage)
		if s.Throttle != nil {
			stages[i] += " (" + fmtThrottle(s.Throttle) + ")"
		}
	}
	f.add("Stages", strings.Join(stages, ", "))
	f.add("Rotation", fmtRotationPolicy(p.Rotation, "none"))
	f.add("Created", fmtTime(p.CreatedAt))
	f.add("Updated", fmtTime(p.UpdatedAt))
	return f.flush()
}

func fmtThrottle(t *keyward.Throttle) string {
	if t == nil {
		return "none"
	}
	return fmt.Sprintf("%g/s, burst %d", t.RateLimit, t.BurstLimit)
}

func fmtQuota(q *keyward.Quota) string {
	if q == nil {
		return "none"
	}
	s := fmt.Sprintf("%d/%s", q.Limit, q.Period)
	if q.Offset != 0 {
		s += fmt.Sprintf(" (offset %d)", q.Offset)
	}
	return s
}

func fmtTokens(t *keyward.TokenLimits) string {
	if t == nil {
		return "none"
	}
	var parts []string
	if t.PerMinute > 0 {
		parts = append(parts, fmt.Sprintf("%d/minute", t.PerMinute))
	}
	if t.PerDay > 0 {
		parts = append(parts, fmt.Sprintf("%d/day", t.PerDay))
	}
	if t.DefaultMaxTokens > 0 {
		parts = append(parts, fmt.Sprintf("default max_tokens %d", t.DefaultMaxTokens))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func newPlansGetCmd() *cobra.Command {
	return getCmd("PLAN", "Show a plan (by name or ID)", Client.GetPlan, printPlan)
}

func newPlansListCmd() *cobra.Command {
	return listCmd("List usage plans", Client.ListPlans,
		[]string{"NAME", "ID", "THROTTLE", "QUOTA", "TOKENS"},
		func(p *keyward.UsagePlan, _ *names) []string {
			return []string{p.Name, p.ID, fmtThrottle(p.Throttle), fmtQuota(p.Quota), fmtTokens(p.Tokens)}
		})
}

func newPlansDeleteCmd() *cobra.Command {
	return deleteCmd("PLAN", "Delete a usage plan (detach its keys first)", "plan", "Plan", Client.DeletePlan)
}

func newPlansAttachCmd(attach bool) *cobra.Command {
	use, short, verb, key := "attach", "Attach a key to a plan", "attached to", "attached"
	if !attach {
		use, short, verb, key = "detach", "Detach a key from a plan", "detached from", "detached"
	}
	return &cobra.Command{
		Use:   use + " PLAN KEY_ID",
		Short: short,
		Args:  exactArgs("PLAN", "KEY_ID"),
		RunE: run(func(e *env, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			if attach {
				err = c.AttachKey(e.ctx, args[0], args[1])
			} else {
				err = c.DetachKey(e.ctx, args[0], args[1])
			}
			if err != nil {
				return err
			}
			return e.done(map[string]any{"plan": args[0], "key": args[1], key: true},
				"Key %s %s plan %s.", sanitizeLine(args[1]), verb, sanitizeLine(args[0]))
		}),
	}
}

func newPlansKeysCmd() *cobra.Command {
	var page pageFlags
	cmd := &cobra.Command{
		Use:   "keys PLAN",
		Short: "List the keys attached to a plan",
		Args:  exactArgs("PLAN"),
		RunE: run(func(e *env, args []string) error {
			if err := page.check(); err != nil {
				return err
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			keys, next, err := collect(e, page, func(p keyward.Page) ([]*keyward.APIKey, string, error) {
				return c.ListPlanKeys(e.ctx, args[0], p)
			})
			if err != nil {
				return err
			}
			e.moreHint(next)
			return e.out(keys, func(w io.Writer) error { return printKeys(w, keys) })
		}),
	}
	page.register(cmd)
	return cmd
}
