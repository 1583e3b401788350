package core

import (
	"context"
	"errors"

	"github.com/keyward/keyward"
)

// write is one audited change: what the body writes and the audit record
// that says who made it commit in one transaction, or neither does.
//
// Every change to the store goes through commit: admin calls (run, after
// authorizing them), the steps of a rotation, and what the server does by
// itself (system). The only writes without a record of their own are the
// few in writeUnaudited, and a test holds both lists closed.
type write struct {
	ev *keyward.AuditEvent
	// recheck runs first in the transaction: a call authorized before its
	// transaction began is decided again there when rights changed since.
	recheck func(ctx context.Context, tx keyward.Tx) error
	// body validates and writes; nil appends the record alone.
	body func(ctx context.Context, tx keyward.Tx) error
	// change is told to the change feed after commit (Kind "": nothing
	// the gateway serves from changed).
	change keyward.Change
	// changed, when set, says the change after the body ran (the ID of a
	// key the body created), instead of change.
	changed func() keyward.Change
	// flushAuth forgets cached tokens and policies, before and after commit:
	// the write can change who may do what.
	flushAuth bool
	// quiet is an error the body returns to say "nothing to do" (a
	// scheduled rotation found not due): rolled back, not a failure.
	quiet error
}

// commit runs w. A failed write is audited as a failure in a transaction
// of its own, with a client-safe message only.
func (s *base) commit(ctx context.Context, w write) error {
	if !w.ev.ReadOnly {
		// A log that failed verification takes no more changes (reads,
		// and their records, go on), until an operator restores it.
		if err := s.trail.alarmError(); err != nil {
			s.recordFailure(ctx, w.ev, err)
			return err
		}
	}
	rec, err := s.appendWith(ctx, w.ev, func(ctx context.Context, tx keyward.Tx) error {
		if w.recheck != nil {
			if err := w.recheck(ctx, tx); err != nil {
				return err
			}
		}
		if w.body != nil {
			if err := w.body(ctx, tx); err != nil {
				return err
			}
		}
		if w.flushAuth {
			s.auth.flush() // before commit too: see run's recheck
		}
		return nil
	})
	if err != nil {
		if w.quiet != nil && errors.Is(err, w.quiet) {
			return err
		}
		s.recordFailure(ctx, w.ev, err)
		return s.internal(ctx, keyward.Action(w.ev.EventName), err)
	}
	if w.flushAuth {
		s.auth.flush()
	}
	change := w.change
	if w.changed != nil {
		change = w.changed()
	}
	if s.changes != nil && change.Kind != "" {
		s.changes.Publish(ctx, change)
	}
	if s.changes != nil && w.flushAuth {
		// Other nodes (a cluster's feed) forget their cached tokens and
		// policies too, rather than trust them until the cache's TTL.
		s.changes.Publish(ctx, keyward.Change{Kind: keyward.ChangeAccess})
	}
	s.toSinks(ctx, rec)
	return nil
}

// recordFailure audits a call or step that did not happen: any change was
// rolled back (or never made); the record says why.
func (s *base) recordFailure(ctx context.Context, ev *keyward.AuditEvent, cause error) {
	ev.ErrorCode = keyward.ErrorCode(cause)
	ev.ErrorMessage = keyward.ErrorMessage(cause)
	ev.ResponseElements = nil
	ctx = context.WithoutCancel(ctx)
	rec, err := s.appendWith(ctx, ev, nil)
	if err != nil {
		s.log.ErrorContext(ctx, "audit write failed", "event", ev.EventName, "err", err)
		return
	}
	s.toSinks(ctx, rec)
}

// appendWith is the one place a write transaction is opened for a change
// with a record: body (may be nil) and the record of ev commit together.
func (s *base) appendWith(ctx context.Context, ev *keyward.AuditEvent, body func(ctx context.Context, tx keyward.Tx) error) (*keyward.AuditRecord, error) {
	var rec *keyward.AuditRecord
	err := s.writer.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
		if body != nil {
			if err := body(ctx, tx); err != nil {
				return err
			}
		}
		var err error
		rec, err = s.alog.Append(ctx, tx, ev)
		return err
	})
	if err == nil {
		s.appended()
	}
	return rec, err
}

// writeUnaudited runs fn in a write transaction with no audit record. It
// is for what is not an action of anyone's: usage counted by the gateway
// (telemetry, written often), notices queued for webhooks, and the audit
// trail's own checkpoints. why says which; a test keeps the list closed.
func (s *base) writeUnaudited(ctx context.Context, why string, fn func(ctx context.Context, tx keyward.Tx) error) error {
	_ = why
	return s.writer.Update(ctx, fn)
}

// Names of the audit events of what the server does by itself: they are
// not admin actions (nobody can be allowed or denied them).
const (
	eventBootstrap      = "keyward:Bootstrap"
	eventPurgeSecret    = "secrets:PurgeSecret"
	eventPruneHistory   = "keyward:PruneHistory"
	eventRetirePrevious = "apikeys:RetirePrevious"
	eventGatewayInvoke  = "gateway:Invoke"
	eventAuthenticate   = "authenticate"
	eventRecordUsage    = "keyward:RecordUsage"
	eventAuditUpgrade   = "keyward:AuditLogUpgrade"
	eventAuditRebase    = "keyward:AuditRebase"
)
