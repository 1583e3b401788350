package core

import (
	"context"
	"strings"

	"github.com/keyward/keyward"
)

// Wherever a call names an API, a plan, a principal or a policy, it may use
// the ID or the name. IDs carry a type prefix, so an ID-shaped reference is
// looked up as an ID first and a name otherwise.

func isNotFound(err error) bool { return keyward.ErrorCode(err) == keyward.ENOTFOUND }

func resolveAPI(ctx context.Context, tx keyward.Tx, ref string) (*keyward.API, error) {
	if strings.HasPrefix(ref, "api_") {
		if a, err := tx.GetAPI(ctx, ref); !isNotFound(err) {
			return a, err
		}
	}
	return tx.GetAPIByName(ctx, ref)
}

func resolvePlan(ctx context.Context, tx keyward.Tx, ref string) (*keyward.UsagePlan, error) {
	if strings.HasPrefix(ref, "plan_") {
		if p, err := tx.GetPlan(ctx, ref); !isNotFound(err) {
			return p, err
		}
	}
	return tx.GetPlanByName(ctx, ref)
}

func resolvePrincipal(ctx context.Context, tx keyward.Tx, ref string) (*keyward.Principal, error) {
	if strings.HasPrefix(ref, "prn_") {
		if p, err := tx.GetPrincipal(ctx, ref); !isNotFound(err) {
			return p, err
		}
	}
	return tx.GetPrincipalByName(ctx, ref)
}

func resolvePolicy(ctx context.Context, tx keyward.Tx, ref string) (*keyward.Policy, error) {
	if strings.HasPrefix(ref, "pol_") {
		if p, err := tx.GetPolicy(ctx, ref); !isNotFound(err) {
			return p, err
		}
	}
	return tx.GetPolicyByName(ctx, ref)
}

// resolveStageKeys turns api references into IDs and checks each stage exists.
func resolveStageKeys(ctx context.Context, tx keyward.Tx, in []keyward.StageKey) ([]keyward.StageKey, []*keyward.API, error) {
	if len(in) > maxListItems {
		return nil, nil, invalid("at most %d stage keys", maxListItems)
	}
	out := make([]keyward.StageKey, 0, len(in))
	apis := make([]*keyward.API, 0, len(in))
	seen := map[keyward.StageKey]bool{}
	for _, sk := range in {
		a, err := resolveAPI(ctx, tx, sk.APIID)
		if err != nil {
			return nil, nil, err
		}
		if _, ok := a.Stage(sk.Stage); !ok {
			return nil, nil, keyward.Errorf(keyward.ENOTFOUND, "API %s has no stage %q", a.Name, sk.Stage)
		}
		k := keyward.StageKey{APIID: a.ID, Stage: sk.Stage}
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
			apis = append(apis, a)
		}
	}
	return out, apis, nil
}
