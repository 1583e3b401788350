package core

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/keyward/keyward"
)

// call describes one admin operation as the audit trail and the authorizer
// see it. Params are built by each operation from an allow-list of fields:
// never by dumping the input, which may hold a value.
type call struct {
	action   keyward.Action
	resource string
	params   map[string]any
	// resolve, when set, turns a reference by name into the resource's ARN
	// by ID, so that policies naming IDs apply whichever way the caller
	// named the resource. A reference that resolves to nothing is reported
	// as not found only to callers allowed the action on it.
	resolve func(ctx context.Context, tx keyward.Tx) (string, error)
	// prepare, when set, runs after authorization and outside the write
	// transaction: long reads (verifying the whole audit chain) must not
	// hold the write lock.
	prepare func(ctx context.Context) error
}

// op is the state of a running call handed to the operation's body: the
// event it will be audited as, and an authorizer for the extra checks some
// operations need once they know the IDs involved.
type op struct {
	s        *base
	caller   keyward.Caller
	policies []*keyward.Policy
	ev       *keyward.AuditEvent
	// change, when set by the body, is what the change feed is told
	// instead of the action's resource (a created key's ID).
	change *keyward.Change
	memo   resolved
}

// changed names what the call changed, for the change feed.
func (o *op) changed(c keyward.Change) { o.change = &c }

// resolved memoizes, for one call (one transaction, where APIs and plans do
// not change), the stages and plans it names: an import of a thousand keys
// bound to one stage and one plan reads them once.
type resolved struct {
	stages map[string]stageResolution
	plans  map[string]*keyward.UsagePlan
}

type stageResolution struct {
	keys []keyward.StageKey
	apis []*keyward.API
}

// resolveStageKeys is resolveStageKeys, once per list of stages per call.
func (o *op) resolveStageKeys(ctx context.Context, tx keyward.Tx, in []keyward.StageKey) ([]keyward.StageKey, []*keyward.API, error) {
	var sig strings.Builder
	for _, sk := range in {
		sig.WriteString(sk.APIID)
		sig.WriteByte('/')
		sig.WriteString(sk.Stage)
		sig.WriteByte(0)
	}
	if r, ok := o.memo.stages[sig.String()]; ok {
		return r.keys, r.apis, nil
	}
	keys, apis, err := resolveStageKeys(ctx, tx, in)
	if err != nil {
		return nil, nil, err
	}
	if o.memo.stages == nil {
		o.memo.stages = map[string]stageResolution{}
	}
	o.memo.stages[sig.String()] = stageResolution{keys, apis}
	return keys, apis, nil
}

// resolvePlan is resolvePlan, once per reference per call.
func (o *op) resolvePlan(ctx context.Context, tx keyward.Tx, ref string) (*keyward.UsagePlan, error) {
	if p, ok := o.memo.plans[ref]; ok {
		return p, nil
	}
	p, err := resolvePlan(ctx, tx, ref)
	if err != nil {
		return nil, err
	}
	if o.memo.plans == nil {
		o.memo.plans = map[string]*keyward.UsagePlan{}
	}
	o.memo.plans[ref] = p
	return p, nil
}

// authorize checks one more action/resource pair for the running call.
func (o *op) authorize(ctx context.Context, action keyward.Action, resource string) error {
	return o.s.authz.Authorize(ctx, keyward.AuthzRequest{
		Policies: o.policies, Action: action, Resource: resource,
		SourceIP: o.caller.SourceIP, Time: o.s.clock.Now(),
	})
}

// respond records response elements in the audit event.
func (o *op) respond(kv ...any) {
	if o.ev.ResponseElements == nil {
		o.ev.ResponseElements = map[string]any{}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		o.ev.ResponseElements[kv[i].(string)] = kv[i+1]
	}
}

// run authorizes c for the caller in ctx, then runs body in one write
// transaction that also appends the call's audit record: the change and its
// record commit together or not at all (fail closed). A denied or failed call
// is audited in a transaction of its own.
func (s *base) run(ctx context.Context, c call, body func(ctx context.Context, tx keyward.Tx, o *op) error) error {
	caller, _ := keyward.CallerFrom(ctx)
	o := &op{s: s, caller: caller, ev: s.newEvent(caller, c)}
	if caller.Principal == nil {
		err := keyward.Errorf(keyward.EUNAUTHORIZED, "authentication required")
		s.recordFailure(ctx, o.ev, err)
		return err
	}
	resource, missing := c.resource, error(nil)
	gen := s.auth.generation()
	cached, hit := s.auth.policiesOf(caller.Principal.ID, time.Now())
	if hit && c.resolve == nil {
		o.policies = cached
	} else if err := s.store.View(ctx, func(ctx context.Context, tx keyward.Tx) error {
		var err error
		if o.policies, err = s.loadPolicies(ctx, tx, caller.Principal.ID); err != nil || c.resolve == nil {
			return err
		}
		arn, err := c.resolve(ctx, tx)
		switch {
		case err == nil:
			resource = arn
			o.ev.Resources = []string{arn}
		case isNotFound(err):
			missing = err
		default:
			return err
		}
		return nil
	}); err != nil {
		s.recordFailure(ctx, o.ev, err)
		return s.internal(ctx, c.action, err)
	}
	if err := o.authorize(ctx, c.action, resource); err != nil {
		if resource != c.resource {
			// Name the resource as the caller did: the resolved ID would
			// tell a caller without rights that the name exists.
			err = keyward.Errorf(keyward.EFORBIDDEN, "not authorized to perform %s on %s", c.action, c.resource)
		}
		s.recordFailure(ctx, o.ev, err)
		return err
	}
	if missing != nil {
		s.recordFailure(ctx, o.ev, missing)
		return missing
	}
	if c.prepare != nil {
		if err := c.prepare(ctx); err != nil {
			s.recordFailure(ctx, o.ev, err)
			return s.internal(ctx, c.action, err)
		}
	}
	return s.commit(ctx, write{
		ev: o.ev,
		recheck: func(ctx context.Context, tx keyward.Tx) error {
			if s.auth.generation() == gen {
				return nil
			}
			// Who may do what changed since this call was authorized: decide
			// again on what this transaction sees, so that a revocation
			// committed first is never outrun by a call already in flight.
			var err error
			if o.policies, err = tx.PoliciesOf(ctx, caller.Principal.ID); err != nil {
				return err
			}
			return o.authorize(ctx, c.action, resource)
		},
		body: func(ctx context.Context, tx keyward.Tx) error {
			// Each attempt starts over: a retried or re-batched transaction
			// must not reuse stages or plans resolved in one rolled back
			// (another call of the batch may have created them, and been
			// rolled back with it), nor what it answered.
			o.memo, o.change, o.ev.ResponseElements = resolved{}, nil, nil
			return body(ctx, tx, o)
		},
		change: changeOf(c.action, resource),
		changed: func() keyward.Change {
			if o.change != nil {
				return *o.change
			}
			return changeOf(c.action, resource)
		},
		flushAuth: changesAuth(c.action),
	})
}

// changeOf is the change a committed action tells the change feed of, as
// the action table says. The ID is the resource's last ARN segment, a hint
// only.
func changeOf(a keyward.Action, resource string) keyward.Change {
	spec, _ := a.Spec()
	if spec.Change == "" {
		return keyward.Change{}
	}
	return keyward.Change{Kind: spec.Change, ID: resource[strings.LastIndexByte(resource, '/')+1:]}
}

// changesAuth reports whether a committed action can change who may do
// what, so that cached tokens and policies must be forgotten.
func changesAuth(a keyward.Action) bool {
	spec, _ := a.Spec()
	return spec.ChangesAuth
}

// system runs body as something the server does by itself (bootstrap,
// purges, handing a value to the gateway): an audit record of type System,
// through the same audited commit as every call.
func (s *base) system(ctx context.Context, name string, params map[string]any, change keyward.Change, body func(ctx context.Context, tx keyward.Tx, ev *keyward.AuditEvent) error) error {
	ev := s.systemEvent(name, "", params)
	return s.commit(ctx, write{
		ev:        ev,
		body:      func(ctx context.Context, tx keyward.Tx) error { return body(ctx, tx, ev) },
		change:    change,
		flushAuth: true, // bootstrap rewrites built-in roles
	})
}

// systemEvent is the event of something the server does by itself.
func (s *base) systemEvent(name, resource string, params map[string]any) *keyward.AuditEvent {
	ev := s.newEvent(keyward.Caller{}, call{action: keyward.Action(name), resource: resource, params: params})
	ev.EventType = keyward.EventTypeSystem
	ev.UserIdentity = keyward.UserIdentity{Type: "System"}
	return ev
}

func (s *base) newEvent(caller keyward.Caller, c call) *keyward.AuditEvent {
	ev := &keyward.AuditEvent{
		EventVersion:      keyward.AuditEventVersion,
		EventID:           uuid.NewString(),
		EventTime:         s.clock.Now().UTC(),
		EventSource:       "keyward",
		EventName:         string(c.action),
		EventType:         keyward.EventTypeCall,
		SourceIPAddress:   caller.SourceIP,
		UserAgent:         caller.UserAgent,
		RequestParameters: c.params,
		RequestID:         caller.RequestID,
		ReadOnly:          c.action.ReadOnly(),
		UserIdentity:      keyward.UserIdentity{Type: "Anonymous"},
	}
	if c.resource != "" {
		ev.Resources = []string{c.resource}
	}
	if p := caller.Principal; p != nil {
		ev.UserIdentity = keyward.UserIdentity{
			Type: "Principal", PrincipalID: p.ID, ARN: keyward.PrincipalARN(p.ID),
			AccessKeyID: caller.TokenID, UserName: p.Name,
		}
	}
	return ev
}

func (s *base) toSinks(ctx context.Context, rec *keyward.AuditRecord) {
	s.sinks.record(context.WithoutCancel(ctx), rec)
}

// internal logs errors that are not domain errors and returns them
// unchanged; the HTTP adapter turns them into a generic "internal error".
func (s *base) internal(ctx context.Context, action keyward.Action, err error) error {
	var e *keyward.Error
	if !errors.As(err, &e) {
		s.log.ErrorContext(ctx, "internal error", "action", string(action), "err", err)
	}
	return err
}
