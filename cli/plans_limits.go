package cli

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward"
)

// limitFlags are the limit flags shared by plans create and plans update,
// and the rotation schedule of the plan's keys.
type limitFlags struct {
	rate        float64
	burst       int
	quota       quotaFlag
	quotaOffset int
	perMinute   int64
	perDay      int64
	defaultMax  int64
	stages      *listFlag[keyward.StageKey]
	description string
	rotation    rotationFlags
}

func (l *limitFlags) register(cmd *cobra.Command) {
	l.stages = newListFlag("API/STAGE", parseStageKey)
	f := cmd.Flags()
	f.Float64Var(&l.rate, "rate", 0, "steady request rate per second (with --burst)")
	f.IntVar(&l.burst, "burst", 0, "burst size of the throttle (with --rate)")
	f.Var(&l.quota, "quota", "request quota, as N/DAY, N/WEEK or N/MONTH")
	f.IntVar(&l.quotaOffset, "quota-offset", 0, "days the quota period's start is shifted by (WEEK: 0-6, MONTH: 0-27)")
	f.Int64Var(&l.perMinute, "tokens-per-minute", 0, "LLM tokens per minute (OpenAI-compatible APIs)")
	f.Int64Var(&l.perDay, "tokens-per-day", 0, "LLM tokens per day (OpenAI-compatible APIs)")
	f.Int64Var(&l.defaultMax, "default-max-tokens", 0, "tokens reserved for a request that names no max_tokens")
	f.Var(l.stages, "stage", "API stage the plan applies to, as API/STAGE (repeatable)")
	f.StringVar(&l.description, "description", "", "description")
	l.rotation.register(cmd)
}

// check validates the values of the limit and rotation flags that were
// given.
func (l *limitFlags) check(cmd *cobra.Command) error {
	if err := l.rotation.check(); err != nil {
		return err
	}
	if changed(cmd, "rate") && l.rate <= 0 {
		return usagef("--rate must be positive")
	}
	if changed(cmd, "burst") && l.burst <= 0 {
		return usagef("--burst must be positive")
	}
	for _, n := range []struct {
		flag string
		v    int64
	}{{"tokens-per-minute", l.perMinute}, {"tokens-per-day", l.perDay}, {"default-max-tokens", l.defaultMax}} {
		if changed(cmd, n.flag) && n.v <= 0 {
			return usagef("--%s must be positive", n.flag)
		}
	}
	return nil
}

func (l *limitFlags) planStages() []keyward.PlanStage {
	out := make([]keyward.PlanStage, len(l.stages.items))
	for i, s := range l.stages.items {
		out[i] = keyward.PlanStage{APIID: s.APIID, Stage: s.Stage}
	}
	return out
}

// tokens merges the token flags that were given into base (nil: none yet).
func (l *limitFlags) tokens(cmd *cobra.Command, base *keyward.TokenLimits) *keyward.TokenLimits {
	var t keyward.TokenLimits
	if base != nil {
		t = *base
	}
	if changed(cmd, "tokens-per-minute") {
		t.PerMinute = l.perMinute
	}
	if changed(cmd, "tokens-per-day") {
		t.PerDay = l.perDay
	}
	if changed(cmd, "default-max-tokens") {
		t.DefaultMaxTokens = l.defaultMax
	}
	return &t
}

func (l *limitFlags) anyTokens(cmd *cobra.Command) bool {
	return changed(cmd, "tokens-per-minute") || changed(cmd, "tokens-per-day") || changed(cmd, "default-max-tokens")
}

func newPlansUpdateCmd() *cobra.Command {
	var (
		l                                         limitFlags
		noThrottle, noQuota, noTokens, noRotation bool
	)
	cmd := &cobra.Command{
		Use:   "update PLAN [flags]",
		Short: "Change a usage plan (by name or ID)",
		Long: `Change a plan; limits whose flags are not given are left alone. A limit
given in part (only --rate, only --quota-offset, one token flag) keeps the
plan's other values. --no-throttle, --no-quota and --no-tokens remove a
limit. --stage replaces the list (--stage '' clears it). --rotate-every or
--rotation-grace alone keeps the other value of the plan's schedule;
--clear-rotation removes it.`,
		Args: exactArgs("PLAN"),
		RunE: run(func(e *env, args []string) error {
			cmd := e.cmd
			if err := l.check(cmd); err != nil {
				return err
			}
			switch {
			case noThrottle && l.setsThrottle(cmd):
				return usagef("--no-throttle cannot be used with --rate or --burst")
			case noQuota && l.setsQuota(cmd):
				return usagef("--no-quota cannot be used with --quota or --quota-offset")
			case noTokens && l.anyTokens(cmd):
				return usagef("--no-tokens cannot be used with the token flags")
			case noRotation && l.rotation.given():
				return usagef("--clear-rotation cannot be used with --rotate-every or --rotation-grace")
			}
			u := keyward.PlanUpdate{ClearThrottle: noThrottle, ClearQuota: noQuota, ClearTokens: noTokens, ClearRotation: noRotation}
			if changed(cmd, "description") {
				u.Description = &l.description
			}
			if changed(cmd, "stage") {
				s := l.planStages()
				u.APIStages = &s
			}
			if !l.setsThrottle(cmd) && !l.setsQuota(cmd) && !l.anyTokens(cmd) && !l.rotation.given() && u == (keyward.PlanUpdate{}) {
				return usagef("nothing to update: give at least one flag")
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			cur := &keyward.UsagePlan{}
			if l.partial(cmd) {
				if cur, err = c.GetPlan(e.ctx, args[0]); err != nil {
					return err
				}
			}
			if err := l.merge(cmd, cur, &u); err != nil {
				return err
			}
			p, err := c.UpdatePlan(e.ctx, args[0], u)
			if err != nil {
				return err
			}
			return e.out(p, func(w io.Writer) error { return printPlan(w, p, e.names()) })
		}),
	}
	l.register(cmd)
	cmd.Flags().BoolVar(&noThrottle, "no-throttle", false, "remove the throttle")
	cmd.Flags().BoolVar(&noQuota, "no-quota", false, "remove the quota")
	cmd.Flags().BoolVar(&noTokens, "no-tokens", false, "remove the token limits")
	cmd.Flags().BoolVar(&noRotation, "clear-rotation", false, "remove the rotation schedule")
	return cmd
}

func (l *limitFlags) setsThrottle(cmd *cobra.Command) bool {
	return changed(cmd, "rate") || changed(cmd, "burst")
}

func (l *limitFlags) setsQuota(cmd *cobra.Command) bool {
	return l.quota.q != nil || changed(cmd, "quota-offset")
}

// partial reports whether a limit is given in part, so that the plan as it
// is must be read to complete it.
func (l *limitFlags) partial(cmd *cobra.Command) bool {
	return (l.setsThrottle(cmd) && !(changed(cmd, "rate") && changed(cmd, "burst"))) ||
		(l.setsQuota(cmd) && l.quota.q == nil) ||
		l.rotation.partial() ||
		(l.anyTokens(cmd) && !(changed(cmd, "tokens-per-minute") && changed(cmd, "tokens-per-day") && changed(cmd, "default-max-tokens")))
}

// merge sets in u the limits given on the command line, completed from cur
// (the plan as it is, or an empty plan when no limit is given in part).
func (l *limitFlags) merge(cmd *cobra.Command, cur *keyward.UsagePlan, u *keyward.PlanUpdate) error {
	if l.setsThrottle(cmd) {
		var t keyward.Throttle
		switch {
		case cur.Throttle != nil:
			t = *cur.Throttle
		case !(changed(cmd, "rate") && changed(cmd, "burst")):
			return usagef("the plan has no throttle yet: give both --rate and --burst")
		}
		if changed(cmd, "rate") {
			t.RateLimit = l.rate
		}
		if changed(cmd, "burst") {
			t.BurstLimit = l.burst
		}
		u.Throttle = &t
	}
	if l.setsQuota(cmd) {
		var q keyward.Quota
		switch {
		case l.quota.q != nil:
			q = *l.quota.q
			if cur.Quota != nil && cur.Quota.Period == q.Period {
				q.Offset = cur.Quota.Offset // kept unless --quota-offset says otherwise
			}
		case cur.Quota != nil:
			q = *cur.Quota
		default:
			return usagef("the plan has no quota yet: give --quota")
		}
		if changed(cmd, "quota-offset") {
			q.Offset = l.quotaOffset
		}
		if err := checkQuotaOffset(q.Period, q.Offset); err != nil {
			return err
		}
		u.Quota = &q
	}
	if l.anyTokens(cmd) {
		u.Tokens = l.tokens(cmd, cur.Tokens)
	}
	rot, err := l.rotation.policy(cur.Rotation, "plan")
	if err != nil {
		return err
	}
	u.Rotation = rot
	return nil
}
