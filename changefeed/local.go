// Package changefeed carries "something changed" notices from the admin
// side to the gateways. Local is the in-process fan-out used by a single
// node; postgres.Feed (LISTEN/NOTIFY) satisfies the same
// keyward.ChangeFeed contract for many nodes.
package changefeed

import (
	"context"
	"sync"

	"github.com/keyward/keyward"
)

// buffer is how many notices a subscriber may fall behind by. A notice
// that finds the buffer full is dropped: the buffer then already holds a
// notice the subscriber has not read, and reading it makes the subscriber
// reload after this change was committed, which is all a notice promises.
// A gateway that full-reloads a million keys (seconds) while a bulk import
// announces a batch every 50 ms must not overflow it, or it reloads again
// at once: 1,024 notices are about 50 s of such an import, and a few
// hundred kilobytes of notices.
const buffer = 1024

// Local fans changes out to subscribers in the same process. The zero
// value is ready to use.
type Local struct {
	mu   sync.Mutex
	subs map[chan keyward.Change]struct{}
}

var _ keyward.ChangeFeed = (*Local)(nil)

// Publish hands c to every subscriber without blocking.
func (l *Local) Publish(_ context.Context, c keyward.Change) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for ch := range l.subs {
		select {
		case ch <- c:
		default:
		}
	}
}

// Subscribe returns a channel of changes and the function that ends the
// subscription (and closes the channel).
func (l *Local) Subscribe() (<-chan keyward.Change, func()) {
	ch := make(chan keyward.Change, buffer)
	l.mu.Lock()
	if l.subs == nil {
		l.subs = map[chan keyward.Change]struct{}{}
	}
	l.subs[ch] = struct{}{}
	l.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			l.mu.Lock()
			delete(l.subs, ch)
			l.mu.Unlock()
			close(ch)
		})
	}
}
