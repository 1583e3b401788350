package core

import (
	"context"
	"time"

	"github.com/keyward/keyward"
)

// HeartbeatEvery is how often a process touches the rotations it is
// running, so that another process (on a cluster, the leader's stale
// sweep) can tell a rotation whose process died from a slow one: a
// rotation untouched for staleAfter is taken over.
const HeartbeatEvery = 5 * time.Second

// RunHeartbeat touches the rotations this process runs every interval
// until ctx ends. Every node of a cluster runs it, leader or not.
func (s *Rotations) RunHeartbeat(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.heartbeat(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "rotation heartbeat", "err", err)
		}
	}
}

// heartbeat touches every rotation running in this process.
func (s *Rotations) heartbeat(ctx context.Context) error {
	s.bg.mu.Lock()
	ids := make([]string, 0, len(s.bg.running)+len(s.bg.keys))
	for id := range s.bg.running {
		ids = append(ids, id)
	}
	for id := range s.bg.keys {
		ids = append(ids, id)
	}
	s.bg.mu.Unlock()
	if len(ids) == 0 {
		return nil
	}
	now := s.clock.Now()
	return s.writeUnaudited(ctx, "rotation heartbeat", func(ctx context.Context, tx keyward.Tx) error {
		for _, id := range ids {
			if err := tx.TouchRotation(ctx, id, s.bg.runner, now); err != nil {
				return err
			}
		}
		return nil
	})
}
