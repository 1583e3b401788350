package core

import (
	"context"
	"sync"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/audit"
)

// sinkQueue hands committed audit records to the sinks (JSONL file, stdout)
// in sequence order. Calls commit concurrently and return in any order; a
// copy of the trail with its records out of order would not verify, so a
// record waits here until every record before it has been delivered, and a
// checkpoint until the record it covers has.
type sinkQueue struct {
	mu      sync.Mutex
	sinks   []audit.Sink
	next    int64 // the next seq to deliver; 0 until known
	records map[int64]*keyward.AuditRecord
	cps     []*keyward.AuditCheckpoint
	last    *keyward.AuditRecord // the last record delivered
	log     func(ctx context.Context, msg string, args ...any)
}

// start sets the next sequence number to deliver (the head + 1 at startup).
func (q *sinkQueue) start(next int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.next == 0 {
		q.next = next
	}
}

// record queues a committed record and delivers what is in order.
func (q *sinkQueue) record(ctx context.Context, r *keyward.AuditRecord) {
	if len(q.sinks) == 0 || r == nil {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.next == 0 {
		q.next = r.Seq
	}
	if q.records == nil {
		q.records = map[int64]*keyward.AuditRecord{}
	}
	q.records[r.Seq] = r
	q.flush(ctx)
}

// signDelivered signs the last record delivered to the sinks and writes the
// checkpoint to them at once, under the queue's lock: it then stands right
// after its record in every sink, which a streaming verifier needs. It
// returns nil when there are no sinks or nothing was delivered yet.
func (q *sinkQueue) signDelivered(ctx context.Context, sign func(seq int64, hash string) *keyward.AuditCheckpoint) *keyward.AuditCheckpoint {
	if len(q.sinks) == 0 {
		return nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.last == nil {
		return nil
	}
	c := sign(q.last.Seq, q.last.Hash)
	q.cps = append(q.cps, c)
	q.flush(ctx)
	return c
}

// flush delivers, with q.mu held, every record that is next in line and
// every checkpoint whose record has been delivered.
func (q *sinkQueue) flush(ctx context.Context) {
	for {
		for len(q.cps) > 0 && q.next > q.cps[0].Seq {
			for _, s := range q.sinks {
				if cs, ok := s.(audit.CheckpointSink); ok {
					if err := cs.WriteCheckpoint(ctx, q.cps[0]); err != nil {
						q.log(ctx, "audit sink checkpoint failed", "seq", q.cps[0].Seq, "err", err)
					}
				}
			}
			q.cps = q.cps[1:]
		}
		r, ok := q.records[q.next]
		if !ok {
			return
		}
		delete(q.records, q.next)
		q.next++
		q.last = r
		for _, s := range q.sinks {
			if err := s.Write(ctx, r); err != nil {
				q.log(ctx, "audit sink write failed", "seq", r.Seq, "err", err)
			}
		}
	}
}
