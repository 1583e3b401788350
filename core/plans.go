package core

import (
	"context"

	"github.com/keyward/keyward"
)

func planResolver(ref string) func(context.Context, keyward.Tx) (string, error) {
	return func(ctx context.Context, tx keyward.Tx) (string, error) {
		p, err := resolvePlan(ctx, tx, ref)
		if err != nil {
			return "", err
		}
		return keyward.PlanARN(p.ID), nil
	}
}

// CreatePlan creates a usage plan.
func (s *Plans) CreatePlan(ctx context.Context, in keyward.PlanCreate) (*keyward.UsagePlan, error) {
	var p *keyward.UsagePlan
	err := s.run(ctx, call{action: keyward.ActionPlanCreate, resource: keyward.PlanARN("*"), params: planParams(in.Name, in.Throttle, in.Quota, in.Tokens)},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			now := s.clock.Now()
			p = &keyward.UsagePlan{ID: newID("plan"), Name: in.Name, Description: in.Description,
				Throttle: in.Throttle, Quota: in.Quota, Tokens: in.Tokens, Rotation: in.Rotation, CreatedAt: now, UpdatedAt: now}
			stages, err := resolvePlanStages(ctx, tx, in.APIStages)
			if err != nil {
				return err
			}
			p.APIStages = stages
			if err := validatePlan(p); err != nil {
				return err
			}
			if err := o.mayBind(ctx, nil, planBindings(p)); err != nil {
				return err
			}
			o.respond("planId", p.ID)
			return tx.InsertPlan(ctx, p)
		})
	if err != nil {
		return nil, err
	}
	return p, nil
}

func planParams(name string, t *keyward.Throttle, q *keyward.Quota, tok *keyward.TokenLimits) map[string]any {
	m := map[string]any{"name": name}
	if t != nil {
		m["throttle"] = map[string]any{"rateLimit": t.RateLimit, "burstLimit": t.BurstLimit}
	}
	if q != nil {
		m["quota"] = map[string]any{"limit": q.Limit, "period": string(q.Period), "offset": q.Offset}
	}
	if tok != nil {
		m["tokens"] = map[string]any{"perMinute": tok.PerMinute, "perDay": tok.PerDay, "defaultMaxTokens": tok.DefaultMaxTokens}
	}
	return m
}

func resolvePlanStages(ctx context.Context, tx keyward.Tx, in []keyward.PlanStage) ([]keyward.PlanStage, error) {
	if len(in) > maxListItems {
		return nil, invalid("at most %d API stages", maxListItems)
	}
	out := make([]keyward.PlanStage, 0, len(in))
	for _, ps := range in {
		a, err := resolveAPI(ctx, tx, ps.APIID)
		if err != nil {
			return nil, err
		}
		if _, ok := a.Stage(ps.Stage); !ok {
			return nil, keyward.Errorf(keyward.ENOTFOUND, "API %s has no stage %q", a.Name, ps.Stage)
		}
		ps.APIID = a.ID
		out = append(out, ps)
	}
	return out, nil
}

func validateThrottle(field string, t *keyward.Throttle) error {
	if t != nil && (t.RateLimit <= 0 || t.RateLimit > 1e6 || t.BurstLimit < 1 || t.BurstLimit > 1e6) {
		return invalid("%s needs rateLimit in (0, 1e6] and burstLimit in [1, 1e6]", field)
	}
	return nil
}

func validatePlan(p *keyward.UsagePlan) error {
	if !planName.MatchString(p.Name) {
		return invalid("plan name must be 1-128 characters of A-Z a-z 0-9 space . _ -, starting with a letter or digit")
	}
	if err := checkNotIDShaped("plan", p.Name); err != nil {
		return err
	}
	if err := checkText("description", p.Description, maxDescriptionLen, false); err != nil {
		return err
	}
	if err := validateThrottle("throttle", p.Throttle); err != nil {
		return err
	}
	if q := p.Quota; q != nil {
		maxOffset := map[keyward.QuotaPeriod]int{keyward.PeriodDay: 0, keyward.PeriodWeek: 6, keyward.PeriodMonth: 27}
		limit, ok := maxOffset[q.Period]
		switch {
		case !ok:
			return invalid("quota period must be DAY, WEEK or MONTH")
		case q.Limit < 1:
			return invalid("quota limit must be at least 1")
		case q.Offset < 0 || q.Offset > limit:
			return invalid("quota offset for %s must be between 0 and %d", q.Period, limit)
		}
	}
	if t := p.Tokens; t != nil && (t.PerMinute < 0 || t.PerDay < 0 || t.DefaultMaxTokens < 0) {
		return invalid("token limits must not be negative")
	}
	if err := checkRotationPolicy(p.Rotation); err != nil {
		return err
	}
	for _, ps := range p.APIStages {
		if err := validateThrottle("stage throttle", ps.Throttle); err != nil {
			return err
		}
		for route, t := range ps.RouteThrottles {
			if _, err := keyward.ParseRouteKey(route); err != nil {
				return err
			}
			if err := validateThrottle("route throttle", &t); err != nil {
				return err
			}
		}
	}
	return nil
}

// GetPlan returns a plan by ID or name.
func (s *Plans) GetPlan(ctx context.Context, ref string) (*keyward.UsagePlan, error) {
	var p *keyward.UsagePlan
	err := s.run(ctx, call{action: keyward.ActionPlanGet, resource: keyward.PlanARN(ref), resolve: planResolver(ref), params: map[string]any{"plan": ref}},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			var err error
			p, err = resolvePlan(ctx, tx, ref)
			return err
		})
	return p, err
}

// ListPlans returns a page of plans.
func (s *Plans) ListPlans(ctx context.Context, pg keyward.Page) ([]*keyward.UsagePlan, string, error) {
	var out []*keyward.UsagePlan
	var next string
	err := s.run(ctx, call{action: keyward.ActionPlanList, resource: keyward.PlanARN("*"), params: map[string]any{"limit": pg.Limit}},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			var err error
			out, next, err = tx.ListPlans(ctx, pg.Normalized())
			return err
		})
	return out, next, err
}

// UpdatePlan changes a plan in place; attached keys keep it.
func (s *Plans) UpdatePlan(ctx context.Context, ref string, u keyward.PlanUpdate) (*keyward.UsagePlan, error) {
	var p *keyward.UsagePlan
	name := ""
	if u.Name != nil {
		name = *u.Name
	}
	params := planParams(name, u.Throttle, u.Quota, u.Tokens)
	params["plan"] = ref
	err := s.run(ctx, call{action: keyward.ActionPlanUpdate, resource: keyward.PlanARN(ref), resolve: planResolver(ref), params: params},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			var err error
			if p, err = resolvePlan(ctx, tx, ref); err != nil {
				return err
			}
			bound := planBindings(p)
			if err := applyPlanUpdate(ctx, tx, p, u); err != nil {
				return err
			}
			if err := o.mayBind(ctx, bound, planBindings(p)); err != nil {
				return err
			}
			if err := validatePlan(p); err != nil {
				return err
			}
			p.UpdatedAt = s.clock.Now()
			return tx.UpdatePlan(ctx, p)
		})
	return p, err
}

func applyPlanUpdate(ctx context.Context, tx keyward.Tx, p *keyward.UsagePlan, u keyward.PlanUpdate) error {
	if (u.ClearThrottle && u.Throttle != nil) || (u.ClearQuota && u.Quota != nil) || (u.ClearTokens && u.Tokens != nil) ||
		(u.ClearRotation && u.Rotation != nil) {
		return invalid("a limit cannot be both set and cleared")
	}
	if u.Name != nil {
		p.Name = *u.Name
	}
	if u.Description != nil {
		p.Description = *u.Description
	}
	if u.Throttle != nil || u.ClearThrottle {
		p.Throttle = u.Throttle
	}
	if u.Quota != nil || u.ClearQuota {
		p.Quota = u.Quota
	}
	if u.Tokens != nil || u.ClearTokens {
		p.Tokens = u.Tokens
	}
	if u.Rotation != nil || u.ClearRotation {
		p.Rotation = u.Rotation
	}
	if u.APIStages != nil {
		stages, err := resolvePlanStages(ctx, tx, *u.APIStages)
		if err != nil {
			return err
		}
		p.APIStages = stages
	}
	return nil
}

// DeletePlan removes a plan that no key is attached to.
func (s *Plans) DeletePlan(ctx context.Context, ref string) error {
	return s.run(ctx, call{action: keyward.ActionPlanDelete, resource: keyward.PlanARN(ref), resolve: planResolver(ref), params: map[string]any{"plan": ref}},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			p, err := resolvePlan(ctx, tx, ref)
			if err != nil {
				return err
			}
			ids, _, err := tx.ListPlanKeyIDs(ctx, p.ID, keyward.Page{Limit: 1})
			if err != nil {
				return err
			}
			if len(ids) > 0 {
				return keyward.Errorf(keyward.EPRECONDITION, "plan %s still has keys attached: detach them first", p.Name)
			}
			return tx.DeletePlan(ctx, p.ID)
		})
}

// AttachKey applies a plan to a key.
func (s *Plans) AttachKey(ctx context.Context, ref, keyID string) error {
	return s.run(ctx, call{action: keyward.ActionPlanAttachKey, resource: keyward.PlanARN(ref), resolve: planResolver(ref), params: map[string]any{"plan": ref, "keyId": keyID}},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			p, err := resolvePlan(ctx, tx, ref)
			if err != nil {
				return err
			}
			// Attaching a plan changes what the key may do: the caller must
			// also be allowed to update the key.
			if err := o.authorize(ctx, keyward.ActionKeyUpdate, keyward.KeyARN(keyID)); err != nil {
				return err
			}
			if err := o.mayBind(ctx, nil, planBindings(p)); err != nil {
				return err
			}
			if _, err := tx.GetKey(ctx, keyID); err != nil {
				return err
			}
			return tx.AttachKey(ctx, p.ID, keyID)
		})
}

// DetachKey removes a plan from a key.
func (s *Plans) DetachKey(ctx context.Context, ref, keyID string) error {
	return s.run(ctx, call{action: keyward.ActionPlanDetachKey, resource: keyward.PlanARN(ref), resolve: planResolver(ref), params: map[string]any{"plan": ref, "keyId": keyID}},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			p, err := resolvePlan(ctx, tx, ref)
			if err != nil {
				return err
			}
			if err := o.authorize(ctx, keyward.ActionKeyUpdate, keyward.KeyARN(keyID)); err != nil {
				return err
			}
			return tx.DetachKey(ctx, p.ID, keyID)
		})
}

// ListPlanKeys returns the keys attached to a plan.
func (s *Plans) ListPlanKeys(ctx context.Context, ref string, pg keyward.Page) ([]*keyward.APIKey, string, error) {
	var out []*keyward.APIKey
	var next string
	err := s.run(ctx, call{action: keyward.ActionPlanListKeys, resource: keyward.PlanARN(ref), resolve: planResolver(ref), params: map[string]any{"plan": ref}},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			out = out[:0] // a retried transaction starts over
			p, err := resolvePlan(ctx, tx, ref)
			if err != nil {
				return err
			}
			ids, n, err := tx.ListPlanKeyIDs(ctx, p.ID, pg.Normalized())
			if err != nil {
				return err
			}
			next = n
			for _, id := range ids {
				k, err := tx.GetKey(ctx, id)
				if err != nil {
					return err
				}
				out = append(out, publicKey(k))
			}
			return nil
		})
	return out, next, err
}
