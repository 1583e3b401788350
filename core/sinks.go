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
	log     func(ctx context.Context, msg string, args ...any)
}

// start sets the next sequence number to deliver (the head + 1 at startup)
// and has each sink write the lines a verifier of its copy starts from: the
// signing key, and the compact range of the tree of the records before.
func (q *sinkQueue) start(ctx context.Context, cv *audit.CheckpointVerifier, size int64, frontier [][]byte) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.next != 0 {
		return
	}
	q.next = size + 1
	for _, s := range q.sinks {
		if cs, ok := s.(audit.CheckpointSink); ok {
			if err := cs.Start(ctx, cv, size, frontier); err != nil {
				q.log(ctx, "audit sink start failed", "err", err)
			}
		}
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

// checkpoint makes a checkpoint with sign and queues it: each sink gets it
// right after the last record it covers, which a streaming verifier needs.
// Nothing is delivered while sign runs, so every record delivered before the
// checkpoint is one it covers (records committed but not yet delivered come
// first, then the checkpoint, then later records). sign runs a write
// transaction; nothing holds one while waiting for the queue.
func (q *sinkQueue) checkpoint(ctx context.Context, sign func() *keyward.AuditCheckpoint) {
	if len(q.sinks) == 0 {
		sign()
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	c := sign()
	if c == nil {
		return
	}
	q.cps = append(q.cps, c)
	q.flush(ctx)
}

// flush delivers, with q.mu held, every record that is next in line and
// every checkpoint whose record has been delivered.
func (q *sinkQueue) flush(ctx context.Context) {
	for {
		for len(q.cps) > 0 && q.next > q.cps[0].Size {
			for _, s := range q.sinks {
				if cs, ok := s.(audit.CheckpointSink); ok {
					if err := cs.WriteCheckpoint(ctx, q.cps[0]); err != nil {
						q.log(ctx, "audit sink checkpoint failed", "size", q.cps[0].Size, "err", err)
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
