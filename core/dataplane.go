package core

import (
	"context"
	"sync"

	"github.com/keyward/keyward"
)

// DataPlaneSnapshot reads everything the gateway serves from: APIs, plans,
// keys with their credential digests, and the CURRENT value of every secret
// a stage sends upstream. It is a trusted in-process call, not an admin
// one, so no policy applies; but handing out a secret value is audited the
// first time this process loads each version, and fails closed when that
// record cannot be written.
func (s *DataPlane) DataPlaneSnapshot(ctx context.Context) (*keyward.DataPlaneSnapshot, error) {
	var snap *keyward.DataPlaneSnapshot
	err := s.LoadDataPlane(ctx, func(sn *keyward.DataPlaneSnapshot) (func(*keyward.APIKey) error, error) {
		snap = sn
		return func(k *keyward.APIKey) error { snap.Keys = append(snap.Keys, k); return nil }, nil
	})
	if err != nil {
		return nil, err
	}
	return snap, nil
}

// LoadDataPlane is DataPlaneSnapshot streamed: keys go to the function
// begin returns as the store reads them (keyward.DataPlaneSource).
func (s *DataPlane) LoadDataPlane(ctx context.Context, begin func(*keyward.DataPlaneSnapshot) (func(*keyward.APIKey) error, error)) error {
	snap := &keyward.DataPlaneSnapshot{UpstreamSecrets: map[string][]byte{}}
	type loaded struct{ name, versionID string }
	var fresh []loaded
	err := s.store.View(ctx, func(ctx context.Context, tx keyward.Tx) error {
		var err error
		if snap.APIs, err = allPages(func(p keyward.Page) ([]*keyward.API, string, error) { return tx.ListAPIs(ctx, p) }); err != nil {
			return err
		}
		if snap.Plans, err = allPages(func(p keyward.Page) ([]*keyward.UsagePlan, string, error) { return tx.ListPlans(ctx, p) }); err != nil {
			return err
		}
		for _, a := range snap.APIs {
			for _, st := range a.Stages {
				name := st.UpstreamSecret
				if name == "" || snap.UpstreamSecrets[name] != nil {
					continue
				}
				sec, err := tx.GetSecret(ctx, name)
				if isNotFound(err) || (err == nil && sec.DeletionDate != nil) {
					continue // the gateway answers 502 for a stage whose credential is gone
				}
				if err != nil {
					return err
				}
				// A key's value never goes upstream, however the stage came
				// to name its secret (the API may predate the key).
				if owner, err := valueOwner(ctx, tx, sec); err != nil {
					return err
				} else if owner != "" {
					continue
				}
				v, err := tx.GetSecretVersionByStage(ctx, name, keyward.StageCurrent)
				if isNotFound(err) {
					continue
				}
				if err != nil {
					return err
				}
				plain, err := s.sealer.Open(ctx, secretBinding(name, v.ID), v.Sealed)
				if err != nil {
					return err
				}
				snap.UpstreamSecrets[name] = plain
				if !s.upstreamAudited.seen(name, v.ID) {
					fresh = append(fresh, loaded{name, v.ID})
				}
			}
		}
		each, err := begin(snap)
		if err != nil {
			return err
		}
		return tx.EachGatewayKey(ctx, each)
	})
	if err != nil {
		return err
	}
	for _, l := range fresh {
		err := s.system(ctx, string(keyward.ActionSecretGetValue), map[string]any{"name": l.name, "versionId": l.versionID, "purpose": "gateway upstream credential"}, keyward.Change{},
			func(ctx context.Context, tx keyward.Tx, ev *keyward.AuditEvent) error {
				ev.EventType = keyward.EventTypeValueRead
				ev.Resources = []string{keyward.SecretARN(l.name)}
				return nil
			})
		if err != nil {
			return err
		}
		s.upstreamAudited.remember(l.name, l.versionID)
	}
	return nil
}

// DataPlaneKeys reads keys for the gateway, as LoadDataPlane does: a
// trusted in-process call, with no policy and nothing audited (no value
// leaves the store, only digests).
func (s *DataPlane) DataPlaneKeys(ctx context.Context, ids []string) ([]*keyward.APIKey, error) {
	var keys []*keyward.APIKey
	err := s.store.View(ctx, func(ctx context.Context, tx keyward.Tx) error {
		for start := 0; start < len(ids); start += 500 {
			page, err := tx.GatewayKeys(ctx, ids[start:min(start+500, len(ids))])
			if err != nil {
				return err
			}
			keys = append(keys, page...)
		}
		return nil
	})
	return keys, err
}

// allPages collects every page of a listing.
func allPages[T any](list func(keyward.Page) ([]T, string, error)) ([]T, error) {
	var out []T
	p := keyward.Page{Limit: 500}
	for {
		items, next, err := list(p)
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
		if next == "" {
			return out, nil
		}
		p.Position = next
	}
}

// versionSet remembers which secret versions were already handed to the
// gateway (and audited as such) by this process.
type versionSet struct {
	mu sync.Mutex
	m  map[string]string // secret name -> version ID
}

func (v *versionSet) seen(name, id string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.m[name] == id
}

func (v *versionSet) remember(name, id string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil {
		v.m = map[string]string{}
	}
	v.m[name] = id
}

// RecordAuthFailures audits refused gateway requests, one record per
// source, reason and API for the window the gateway aggregated over. The
// reason is a fixed word chosen by the gateway, never the key.
func (s *DataPlane) RecordAuthFailures(ctx context.Context, counts []keyward.AuthFailureCount) error {
	for _, c := range counts {
		ev := s.newEvent(keyward.Caller{SourceIP: c.SourceIP}, call{
			action: eventGatewayInvoke,
			params: map[string]any{"authFailure": c.Reason, "failures": c.Count, "api": c.API},
		})
		ev.ErrorCode = keyward.ErrorCode(errUnauthenticated)
		ev.ErrorMessage = "gateway refused the request's API key"
		if err := s.commit(ctx, write{ev: ev}); err != nil {
			return err
		}
	}
	return nil
}
