//go:build linux

package gateway

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// rawPair is a loopback TCP connection: the wrapped end and its peer.
func rawPair(t *testing.T) (*rawTCP, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer := <-accepted
	t.Cleanup(func() { c.Close(); peer.Close() })
	rc, ok := rawConn(c).(*rawTCP)
	if !ok {
		t.Fatal("a TCP connection was not wrapped")
	}
	return rc, peer
}

// TestRawConnBehavesAsTCPConn: the wrapped connection answers as
// net.TCPConn does where the HTTP server and the upstream pool look:
// data both ways (a write larger than the socket buffer included), a
// deadline as a timeout, the peer's close as io.EOF, its own close as
// net.ErrClosed.
func TestRawConnBehavesAsTCPConn(t *testing.T) {
	c, peer := rawPair(t)

	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB: the write parks until the peer reads
	got := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(peer, int64(len(big))))
		got <- b
	}()
	if n, err := c.Write(big); err != nil || n != len(big) {
		t.Fatalf("write: %d, %v", n, err)
	}
	if b := <-got; !bytes.Equal(b, big) {
		t.Fatalf("the peer read %d bytes, not what was written", len(b))
	}

	go peer.Write([]byte("hello"))
	buf := make([]byte, 16)
	n, err := io.ReadAtLeast(c, buf, 5)
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}

	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, err = c.Read(buf)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a read past its deadline: %v, want a timeout", err)
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "read" {
		t.Fatalf("a read past its deadline: %#v, want a *net.OpError of read", err)
	}
	c.SetReadDeadline(time.Time{})

	peer.Close()
	if _, err := c.Read(buf); err != io.EOF {
		t.Fatalf("a read after the peer closed: %v, want io.EOF", err)
	}
	c.Close()
	if _, err := c.Read(buf); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("a read after Close: %v, want net.ErrClosed", err)
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("a write after Close: %v, want net.ErrClosed", err)
	}
}

// TestRawConnWriteToAResetPeerFails: a write to a peer that is gone
// returns the error (EPIPE or ECONNRESET), never spins or claims success.
func TestRawConnWriteToAResetPeerFails(t *testing.T) {
	c, peer := rawPair(t)
	peer.(*net.TCPConn).SetLinger(0) // close with RST
	peer.Close()
	time.Sleep(20 * time.Millisecond)
	var err error
	for range 10 {
		if _, err = c.Write([]byte("after the reset")); err != nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err == nil {
		t.Fatal("writes to a reset peer kept succeeding")
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "write" {
		t.Fatalf("write error %#v, want a *net.OpError of write", err)
	}
}
