//go:build linux

package gateway

import (
	"testing"

	"golang.org/x/sys/unix"
)

// An idle upstream connection with input in a batch of events (a stray
// response, or the upstream's close) is closed before any event of the
// batch is handled, so that a client's request earlier in the same batch
// cannot take it from the pool; a busy connection and an idle one that
// only became writable are left alone.
func TestLoopClosesStirredIdleConnectionsBeforeTheBatch(t *testing.T) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(epfd)
	l := &evLoop{epfd: epfd, idle: map[*upstream][]*lconn{}, events: make([]unix.EpollEvent, 8)}
	pool := &upstream{host: "u"}
	conn := func() *lconn {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(fds[1]) })
		c, err := l.add(fds[0], true)
		if err != nil {
			t.Fatal(err)
		}
		c.pool = pool
		return c
	}
	stirred, writable, busy, client := conn(), conn(), conn(), conn()
	client.upstream = false
	l.release(stirred)
	l.release(writable)
	busy.peer = client
	ev := func(c *lconn, events uint32) unix.EpollEvent {
		return unix.EpollEvent{Events: events, Fd: int32(c.fd), Pad: c.gen}
	}
	l.events[0] = ev(client, unix.EPOLLIN) // handled in order, it would take from the pool first
	l.events[1] = ev(busy, unix.EPOLLIN)
	l.events[2] = ev(writable, unix.EPOLLOUT)
	l.events[3] = ev(stirred, unix.EPOLLIN|unix.EPOLLRDHUP)

	l.closeStirredIdle(4)

	if !stirred.closed || l.conn(stirred.fd, stirred.gen) != nil {
		t.Error("the idle connection with input was not closed")
	}
	if got := l.idle[pool]; len(got) != 1 || got[0] != writable {
		t.Errorf("pool after: %d connections, want the writable one alone", len(got))
	}
	if busy.closed || writable.closed || client.closed {
		t.Error("a connection without stray input was closed")
	}
}
