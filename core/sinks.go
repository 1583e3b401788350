package core

import (
	"context"
	"sort"
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

func (q *sinkQueue) checkpoint(ctx context.Context, c *keyward.AuditCheckpoint) {
	if len(q.sinks) == 0 {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.cps = append(q.cps, c)
	sort.Slice(q.cps, func(i, j int) bool { return q.cps[i].Seq < q.cps[j].Seq })
	q.flush(ctx)
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
		for _, s := range q.sinks {
			if err := s.Write(ctx, r); err != nil {
				q.log(ctx, "audit sink write failed", "seq", r.Seq, "err", err)
			}
		}
	}
}
