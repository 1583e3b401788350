package core

import (
	"context"
	"sync"
	"time"
)

// background tracks the work the service runs on its own: secret
// rotations waiting on their rotator, and the scheduler loop.
type background struct {
	mu      sync.Mutex
	running map[string]context.CancelFunc // secret rotation ID → cancel
	keys    map[string]bool               // key rotations running in this process
	stopped bool
	wg      sync.WaitGroup

	deadlines    sync.Mutex
	keyDeadlines []KeyDeadlines

	kick chan struct{} // asks the scheduler loop for a pass now

	// runner names this process as the runner of the rotations it
	// starts or takes over (keyward.Rotation.Runner).
	runner string
}

// kickScheduler asks for a scheduler pass soon, so that the deadlines
// behind the metrics follow a rotation at once.
func (s *Rotations) kickScheduler() {
	select {
	case s.bg.kick <- struct{}{}:
	default:
	}
}

// KeyDeadlines are the times a key's gauges count down to; zero: none.
type KeyDeadlines struct {
	KeyID         string
	ExpiresAt     time.Time
	PreviousUntil time.Time
	NextRotation  time.Time
}

// Deadlines returns the deadlines found by the last scheduler pass.
func (s *Rotations) Deadlines() []KeyDeadlines {
	s.bg.deadlines.Lock()
	defer s.bg.deadlines.Unlock()
	return s.bg.keyDeadlines
}

// NoticeBefore is how long before a deadline (expiry, end of grace, next
// rotation) the notification goes out.
const NoticeBefore = 24 * time.Hour

// Stop cancels background rotations and waits for them; a rotation cut off
// is resumed by ResumeRotations on the next start.
func (s *Rotations) Stop() {
	s.bg.mu.Lock()
	s.bg.stopped = true
	for _, cancel := range s.bg.running {
		cancel()
	}
	s.bg.mu.Unlock()
	s.bg.wg.Wait()
}

// RunScheduler runs a scheduler pass at once (so rotations missed while
// the server was down run on start) and every interval until ctx is done.
// Call ResumeRotations before serving, then this.
func (s *Rotations) RunScheduler(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := s.SchedulePass(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "rotation scheduler", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.bg.kick:
		}
	}
}
