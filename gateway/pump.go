package gateway

import (
	"io"
	"sync"
)

// pump reads an upstream event stream in a goroutine of its own and hands
// the writer whatever has arrived since its last write. fasthttp's client
// returns one chunk per Read, and writing each chunk on its own costs one
// system call per event; an upstream that sends twenty events in a burst
// would cost twenty. With the pump, events that arrive while the client
// write is in progress go out together in the next write, as nginx does,
// and an event that arrives alone still goes out at once: the writer
// never waits for more.
type pump struct {
	src  io.Reader
	tmp  []byte
	mu   sync.Mutex
	cond sync.Cond // signalled when pending has room again or the pump closes
	// pending holds bytes read but not yet written, up to maxPending.
	pending []byte
	err     error // terminal: io.EOF at the end of the stream
	closed  bool
	ready   chan struct{} // capacity 1: "pending or err changed"
	done    chan struct{} // closed when the reading goroutine has exited
}

// maxPending bounds what a slow client can make the gateway hold for one
// stream; the pump stops reading from the upstream until it drains.
const maxPending = 256 << 10

func (p *pump) start(src io.Reader, tmp, pending []byte) {
	p.src, p.tmp, p.pending, p.err, p.closed = src, tmp, pending[:0], nil, false
	p.cond.L = &p.mu
	p.ready = make(chan struct{}, 1)
	p.done = make(chan struct{})
	go p.run()
}

func (p *pump) run() {
	defer close(p.done)
	for {
		n, err := p.src.Read(p.tmp)
		p.mu.Lock()
		for len(p.pending)+n > maxPending && !p.closed {
			p.cond.Wait()
		}
		if p.closed {
			p.mu.Unlock()
			return
		}
		p.pending = append(p.pending, p.tmp[:n]...)
		if err != nil {
			p.err = err
		}
		p.mu.Unlock()
		select {
		case p.ready <- struct{}{}:
		default:
		}
		if err != nil {
			return
		}
	}
}

// Read returns everything pending (as much as fits), waiting only when
// nothing is.
func (p *pump) Read(b []byte) (int, error) {
	for {
		p.mu.Lock()
		if len(p.pending) > 0 {
			n := copy(b, p.pending)
			p.pending = p.pending[:copy(p.pending, p.pending[n:])]
			p.mu.Unlock()
			p.cond.Signal()
			return n, nil
		}
		if err := p.err; err != nil {
			p.mu.Unlock()
			return 0, err
		}
		p.mu.Unlock()
		<-p.ready
	}
}

// stop ends the pump; interrupt must make a blocked src.Read return (it
// closes the upstream connection). It waits for the reading goroutine so
// that the buffers can be reused.
func (p *pump) stop(interrupt func()) {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.cond.Broadcast()
	select {
	case <-p.done:
	default:
		interrupt()
		<-p.done
	}
}
