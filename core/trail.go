package core

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/audit"
)

// trail is the audit log's state in this process: the witness kept outside
// the store, the alarm raised when the store no longer matches what vouches
// for it, and the pace of checkpoints.
type trail struct {
	witness *audit.Witness
	every   int64         // records between checkpoints
	kick    chan struct{} // asks the checkpointer for one now
	since   atomic.Int64  // records appended since the last checkpoint

	alarm atomic.Pointer[string] // why the log failed verification; nil: intact
	mu    sync.Mutex             // one checkpoint (or rebase) at a time

	// state for metrics and readiness
	tailRecords atomic.Int64
	tailSince   atomic.Int64 // unix seconds of the oldest unchecked record, 0: none
	verified    atomic.Int64 // records covered by the last full verification
	onAlarm     func(reason string)
}

// errAuditAlarm starts the message of every call refused while the alarm
// is raised.
const auditAlarmMessage = "the audit log failed verification; admin changes are refused until an operator restores it (see the README, \"Restoring the audit log\")"

// raise sets the alarm (the first reason is kept).
func (t *trail) raise(reason string) bool {
	return t.alarm.CompareAndSwap(nil, &reason)
}

// alarmError is nil when the log is intact.
func (t *trail) alarmError() error {
	if r := t.alarm.Load(); r != nil {
		return keyward.Errorf(keyward.EUNAVAILABLE, "%s: %s", auditAlarmMessage, *r)
	}
	return nil
}

// AuditAlarm returns why the audit log failed verification ("" when it is
// intact).
func (s *Audit) AuditAlarm() string {
	if r := s.trail.alarm.Load(); r != nil {
		return *r
	}
	return ""
}

// AuditState is what the metrics report of the log.
type AuditState struct {
	Intact      bool
	TailRecords int64
	TailSince   time.Time
	Verified    int64
}

// State returns the log's state as last seen.
func (s *Audit) State() AuditState {
	st := AuditState{Intact: s.trail.alarm.Load() == nil, TailRecords: s.trail.tailRecords.Load(), Verified: s.trail.verified.Load()}
	if ts := s.trail.tailSince.Load(); ts > 0 {
		st.TailSince = time.Unix(ts, 0)
	}
	return st
}

// OnAlarm registers fn, called once when the alarm is raised.
func (s *Audit) OnAlarm(fn func(reason string)) { s.trail.onAlarm = fn }

// alarmed raises the alarm for a tampered log and says so loudly, once.
func (s *base) alarmed(ctx context.Context, err error) {
	reason := err.Error()
	if s.trail.raise(reason) {
		s.log.ErrorContext(ctx, "AUDIT LOG TAMPERED: admin changes are refused until an operator restores the log; the gateway keeps serving",
			"reason", reason)
		if s.trail.onAlarm != nil {
			s.trail.onAlarm(reason)
		}
	}
}

// appended counts a committed record and asks for a checkpoint every N.
func (s *base) appended() {
	if s.trail.since.Add(1) >= s.trail.every {
		select {
		case s.trail.kick <- struct{}{}:
		default:
		}
	}
}

// OpenAudit makes the audit log ready, before any other write: it carries
// an old hash chain over into the tree (once), checks the store against the
// witness (O(records since the witness)), signs a checkpoint of what is
// there, and starts the sinks. A store that does not match its witness
// raises the alarm instead of failing: the gateway must keep serving.
// The full verification runs in the background afterwards
// (VerifyInBackground).
func (s *Audit) OpenAudit(ctx context.Context) error {
	s.trail.mu.Lock()
	defer s.trail.mu.Unlock()
	cv := s.signer.Verifier()
	var w *keyward.AuditCheckpoint
	if s.trail.witness != nil {
		var err error
		if w, err = s.trail.witness.Read(cv); err != nil {
			s.alarmed(ctx, fmt.Errorf("the witness file cannot be read as a checkpoint of this server: %w", err))
		}
	}
	if w == nil && s.AuditAlarm() == "" {
		if err := s.upgrade(ctx); err != nil {
			return err
		}
	}
	var tail *audit.Tail
	err := s.store.View(ctx, func(ctx context.Context, tx keyward.Tx) error {
		var err error
		if s.trail.witness != nil && w == nil {
			// No witness: a new deployment, or one from before the
			// witness. A store that already has checkpoints but no
			// witness lost it: that is for an operator to judge.
			latest, err := tx.LatestCheckpoint(ctx)
			if err != nil {
				return err
			}
			if latest != nil && s.AuditAlarm() == "" {
				return &audit.TamperError{Reason: fmt.Sprintf("the store has checkpoints up to %d but the witness file %s is missing", latest.Size, s.trail.witness.Path())}
			}
		}
		tail, err = s.alog.CheckWitness(ctx, tx, w)
		return err
	})
	switch {
	case audit.IsTampered(err):
		s.alarmed(ctx, err)
	case err != nil:
		return err
	default:
		s.noteTail(tail)
	}
	if s.AuditAlarm() == "" {
		if err := s.checkpointLocked(ctx); err != nil && !audit.IsTampered(err) {
			return err
		}
	}
	// The sinks continue from the head, with the frontier of the tree
	// there: the checkpoint above integrated every record.
	return s.store.View(ctx, func(ctx context.Context, tx keyward.Tx) error {
		latest, err := tx.LatestCheckpoint(ctx)
		if err != nil || latest == nil {
			s.sinks.start(ctx, cv, 0, nil)
			return err
		}
		head, err := tx.AuditHead(ctx)
		if err != nil {
			return err
		}
		if head != latest.Size {
			// Alarm raised: nothing new is signed, and the sinks'
			// copies cannot be verified past the last checkpoint.
			s.sinks.start(ctx, cv, latest.Size, nil)
			return nil
		}
		frontier, err := audit.Frontier(ctx, tx, head)
		if err != nil {
			return err
		}
		s.sinks.start(ctx, cv, head, frontier)
		return nil
	})
}

// upgrade carries an old hash chain over, with a record saying what was
// verified, in the transaction that does it.
func (s *Audit) upgrade(ctx context.Context) error {
	var res *audit.UpgradeResult
	err := s.writeUnaudited(ctx, "audit log upgrade", func(ctx context.Context, tx keyward.Tx) error {
		var err error
		res, err = audit.Upgrade(ctx, tx, s.signer.PublicKey())
		return err
	})
	if err != nil || res == nil {
		return err
	}
	params := map[string]any{"records": res.Legacy.Through, "checkpointsVerified": res.Checkpoints,
		"verifiedThrough": res.OldHeadCheck, "oldHead": res.OldHead}
	if res.Legacy.Unverified != nil {
		params["unverifiedFirst"], params["unverifiedLast"] = res.Legacy.Unverified.First, res.Legacy.Unverified.Last
	}
	if res.Broken != "" {
		params["oldChainBroken"], params["oldChainBrokenAt"] = res.Broken, res.BrokenAt
	}
	s.log.WarnContext(ctx, "audit log carried over from the hash chain into the transparency log", "records", res.Legacy.Through,
		"verifiedThrough", res.OldHeadCheck, "oldChainProblem", res.Broken)
	return s.system(ctx, eventAuditUpgrade, params, keyward.Change{}, func(context.Context, keyward.Tx, *keyward.AuditEvent) error { return nil })
}

func (s *base) noteTail(t *audit.Tail) {
	s.trail.tailRecords.Store(t.Records)
	s.trail.since.Store(t.Records)
	if t.Records > 0 && !t.Since.IsZero() {
		s.trail.tailSince.Store(t.Since.Unix())
	} else {
		s.trail.tailSince.Store(0)
	}
}

// Checkpoint signs the log's head when it moved since the last checkpoint,
// after checking every record since then (see audit.Log.Checkpoint), keeps
// it in the witness file and hands it to the sinks. The server calls it on
// a timer, every N records and at shutdown. While the alarm is raised it
// signs nothing.
func (s *Audit) Checkpoint(ctx context.Context) error {
	s.trail.mu.Lock()
	defer s.trail.mu.Unlock()
	if err := s.trail.alarmError(); err != nil {
		return nil
	}
	return s.checkpointLocked(ctx)
}

func (s *base) checkpointLocked(ctx context.Context) error {
	var cp *keyward.AuditCheckpoint
	var err error
	s.sinks.checkpoint(context.WithoutCancel(ctx), func() *keyward.AuditCheckpoint {
		err = s.writeUnaudited(ctx, "audit checkpoint", func(ctx context.Context, tx keyward.Tx) error {
			var err error
			cp, err = s.alog.Checkpoint(ctx, tx, s.clock.Now())
			return err
		})
		if err != nil {
			return nil
		}
		return cp
	})
	if audit.IsTampered(err) {
		s.alarmed(ctx, err)
		return err
	}
	if err != nil || cp == nil {
		return err
	}
	s.trail.since.Store(0)
	s.trail.tailRecords.Store(0)
	s.trail.tailSince.Store(0)
	if s.trail.witness != nil {
		if err := s.trail.witness.Write(cp); err != nil {
			// The checkpoint is in the store; the next one will try the
			// witness again. A start before that finds the store ahead of
			// the witness, which is fine.
			s.log.ErrorContext(ctx, "audit witness not written", "size", cp.Size, "err", err)
		}
	}
	return nil
}

// RunCheckpointer checkpoints every interval and whenever N records came,
// until ctx ends.
func (s *Audit) RunCheckpointer(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.trail.kick:
		}
		if err := s.Checkpoint(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "audit checkpoint failed", "err", err)
		}
	}
}

// VerifyInBackground runs the full verification of the log (every record
// against the signed roots, the witness included) and raises the alarm when
// it fails. The server runs it once after start.
func (s *Audit) VerifyInBackground(ctx context.Context) {
	res, err := s.verify(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.ErrorContext(ctx, "audit verification could not run", "err", err)
		}
		return
	}
	s.trail.verified.Store(res.Verified)
	if !res.OK {
		s.alarmed(ctx, &audit.TamperError{Seq: res.FirstBadSeq, Reason: res.Reason})
		return
	}
	s.log.InfoContext(ctx, "audit log verified", "records", res.Records, "verified", res.Verified, "tail", res.TailRecords)
}

// verify runs the full verification against the witness.
func (s *base) verify(ctx context.Context) (*keyward.AuditVerification, error) {
	var w *keyward.AuditCheckpoint
	if s.trail.witness != nil {
		var err error
		if w, err = s.trail.witness.Read(s.signer.Verifier()); err != nil {
			return &keyward.AuditVerification{FirstBadSeq: 0, Reason: "witness: " + err.Error()}, nil
		}
	}
	return s.alog.VerifyStore(ctx, s.store, w)
}

// RebaseResult says what a rebase did.
type RebaseResult struct {
	Previous *keyward.AuditCheckpoint // the witness before (nil: none)
	Base     *keyward.AuditCheckpoint // the new witness
	Records  int64
}

// Join makes a node that joins a cluster trust the log the cluster shares,
// before OpenAudit: the store must verify in full against its own signed
// checkpoints and tail tags (made with the keys the cluster keeps sealed
// by its keyring), and its latest checkpoint becomes this node's witness.
// Nothing is appended. A node that has joined before keeps its witness,
// and a missing one raises the alarm as on a single node.
func (s *Audit) Join(ctx context.Context) (*keyward.AuditCheckpoint, error) {
	s.trail.mu.Lock()
	defer s.trail.mu.Unlock()
	if s.trail.witness == nil {
		return nil, nil
	}
	res, err := s.alog.VerifyStore(ctx, s.store, nil)
	if err != nil {
		return nil, err
	}
	if !res.OK {
		return nil, keyward.Errorf(keyward.EPRECONDITION,
			"the cluster's audit log does not verify (record %d: %s); this node will not join it", res.FirstBadSeq, res.Reason)
	}
	var latest *keyward.AuditCheckpoint
	err = s.store.View(ctx, func(ctx context.Context, tx keyward.Tx) error {
		latest, err = tx.LatestCheckpoint(ctx)
		return err
	})
	if err != nil || latest == nil {
		return nil, err
	}
	return latest, s.trail.witness.Write(latest)
}

// Rebase makes the store's log the trusted one again after an operator
// restored it deliberately (a database backup, say): the store must verify
// against its own signed checkpoints and tags, then a record saying who
// rebased, why, and from which witness to which is appended and signed, the
// witness is replaced and the alarm is cleared. It is meant to be run with
// the server stopped (keyward audit rebase).
func (s *Audit) Rebase(ctx context.Context, operator, reason string) (*RebaseResult, error) {
	s.trail.mu.Lock()
	defer s.trail.mu.Unlock()
	if reason == "" {
		return nil, keyward.Errorf(keyward.EINVALID, "a rebase needs a reason")
	}
	res, err := s.alog.VerifyStore(ctx, s.store, nil)
	if err != nil {
		return nil, err
	}
	if !res.OK {
		return nil, keyward.Errorf(keyward.EPRECONDITION,
			"the store's own log does not verify (record %d: %s); restore a database backup whose log verifies", res.FirstBadSeq, res.Reason)
	}
	out := &RebaseResult{Records: res.Records}
	params := map[string]any{"reason": reason, "operator": operator, "storeRecords": res.Records, "storeTreeSize": res.TreeSize, "storeRoot": res.Root}
	if s.trail.witness != nil {
		prev, err := s.trail.witness.Read(s.signer.Verifier())
		if err != nil {
			params["previousWitnessError"] = err.Error()
		}
		if prev != nil {
			out.Previous = prev
			params["previousWitnessSize"], params["previousWitnessRoot"] = prev.Size, prev.Root
		}
	}
	s.trail.alarm.Store(nil)
	if err := s.system(ctx, eventAuditRebase, params, keyward.Change{}, func(context.Context, keyward.Tx, *keyward.AuditEvent) error { return nil }); err != nil {
		return nil, err
	}
	if err := s.checkpointLocked(ctx); err != nil {
		return nil, err
	}
	err = s.store.View(ctx, func(ctx context.Context, tx keyward.Tx) error {
		var err error
		out.Base, err = tx.LatestCheckpoint(ctx)
		return err
	})
	if err == nil && out.Base == nil {
		err = errors.New("no checkpoint after the rebase")
	}
	return out, err
}
