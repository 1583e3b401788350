//go:build linux

package gateway

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math/rand"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// attackPair: a loopback TCP pair whose first end is wrapped by rawConn.
func attackPair(t *testing.T) (*rawTCP, *net.TCPConn) {
	t.Helper()
	c, peer := rawPair(t)
	return c, peer.(*net.TCPConn)
}

// A Read parked with no deadline is unblocked by a concurrent Close, with
// net.ErrClosed.
func TestAttackRawCloseUnblocksParkedRead(t *testing.T) {
	c, _ := attackPair(t)
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 10))
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	c.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("parked read after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("a parked Read was not unblocked by Close")
	}
}

// A Write parked on a full socket buffer is unblocked by a concurrent
// Close; the count it reports is what was written.
func TestAttackRawCloseUnblocksParkedWrite(t *testing.T) {
	c, _ := attackPair(t)
	type res struct {
		n   int
		err error
	}
	done := make(chan res, 1)
	big := make([]byte, 64<<20)
	go func() {
		n, err := c.Write(big)
		done <- res{n, err}
	}()
	time.Sleep(100 * time.Millisecond)
	c.Close()
	select {
	case r := <-done:
		if !errors.Is(r.err, net.ErrClosed) {
			t.Fatalf("parked write after Close: %d, %v, want net.ErrClosed", r.n, r.err)
		}
		if r.n <= 0 || r.n >= len(big) {
			t.Fatalf("parked write reported %d bytes written", r.n)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("a parked Write was not unblocked by Close")
	}
}

// A big write to a peer that does not read ends at the write deadline with
// a timeout, reporting the bytes that did go (short count AND an error,
// never a short count alone), and the peer receives exactly those bytes.
func TestAttackRawWriteDeadlineShortCountWithError(t *testing.T) {
	c, peer := attackPair(t)
	big := make([]byte, 32<<20)
	rand.New(rand.NewSource(1)).Read(big)
	c.SetWriteDeadline(time.Now().Add(150 * time.Millisecond))
	start := time.Now()
	n, err := c.Write(big)
	if time.Since(start) > 3*time.Second {
		t.Fatalf("write took %v past a 150ms deadline", time.Since(start))
	}
	var ne net.Error
	if err == nil || !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write past deadline: n=%d err=%v, want a timeout", n, err)
	}
	if n <= 0 || n >= len(big) {
		t.Fatalf("write past deadline reported n=%d", n)
	}
	c.CloseWrite()
	got, rerr := io.ReadAll(peer)
	if rerr != nil {
		t.Fatal(rerr)
	}
	if len(got) != n || !bytes.Equal(got, big[:n]) {
		t.Fatalf("peer got %d bytes (equal prefix %v), Write reported %d", len(got), bytes.Equal(got, big[:min(len(got), len(big))]), n)
	}
	// a write after the deadline fails at once, writing nothing
	n2, err := c.Write([]byte("x"))
	if n2 != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write after deadline: %d, %v", n2, err)
	}
}

// Reads and writes in both directions at once, with many small and big
// writes from several goroutines: every byte arrives, no Write interleaves
// with another, nothing is reordered within a Write.
func TestAttackRawConcurrentWritesDoNotInterleave(t *testing.T) {
	c, peer := attackPair(t)
	const writers, perWriter = 4, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewSource(int64(w)))
			for i := range perWriter {
				size := 1 + r.Intn(300<<10)
				msg := make([]byte, 8+size)
				msg[0], msg[1], msg[2], msg[3] = byte(w), byte(i), byte(size>>16), byte(size>>8)
				msg[4] = byte(size)
				for j := 8; j < len(msg); j++ {
					msg[j] = byte(w*31 + i + j)
				}
				if n, err := c.Write(msg); err != nil || n != len(msg) {
					t.Errorf("write: %d of %d, %v", n, len(msg), err)
					return
				}
			}
		}()
	}
	// the other direction at the same time
	echoDone := make(chan error, 1)
	go func() {
		buf := make([]byte, 1<<20)
		total := 0
		for total < 4<<20 {
			n, err := c.Read(buf)
			if err != nil {
				echoDone <- err
				return
			}
			for j := 0; j < n; j++ {
				if buf[j] != byte((total+j)%251) {
					echoDone <- errors.New("reverse direction corrupted")
					return
				}
			}
			total += n
		}
		echoDone <- nil
	}()
	go func() {
		b := make([]byte, 4<<20)
		for j := range b {
			b[j] = byte(j % 251)
		}
		peer.Write(b)
	}()
	br := bufio.NewReader(peer)
	seen := map[int]int{}
	for range writers * perWriter {
		var h [8]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			t.Fatal(err)
		}
		w, i, size := int(h[0]), int(h[1]), int(h[2])<<16|int(h[3])<<8|int(h[4])
		if w >= writers || i != seen[w] || size < 1 || size > 300<<10 {
			t.Fatalf("frame header w=%d i=%d size=%d (expected i=%d): interleaved or reordered", w, i, size, seen[w])
		}
		seen[w]++
		body := make([]byte, size)
		if _, err := io.ReadFull(br, body); err != nil {
			t.Fatal(err)
		}
		for j := range body {
			if body[j] != byte(w*31+i+j+8) {
				t.Fatalf("frame w=%d i=%d corrupted at %d", w, i, j)
			}
		}
	}
	wg.Wait()
	if err := <-echoDone; err != nil {
		t.Fatal(err)
	}
}

// Zero-length reads and writes return at once with 0, nil on an open
// conn, even with nothing to read, and do not consume data.
func TestAttackRawZeroLength(t *testing.T) {
	c, peer := attackPair(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if n, err := c.Read(nil); n != 0 || err != nil {
			t.Errorf("zero-length read: %d, %v", n, err)
		}
		if n, err := c.Write(nil); n != 0 || err != nil {
			t.Errorf("zero-length write: %d, %v", n, err)
		}
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("a zero-length read or write blocked")
	}
	peer.Write([]byte("ab"))
	time.Sleep(20 * time.Millisecond)
	c.Read(make([]byte, 0))
	b := make([]byte, 2)
	if _, err := io.ReadFull(c, b); err != nil || string(b) != "ab" {
		t.Fatalf("read after zero-length read: %q %v", b, err)
	}
}

// Data followed by the peer's FIN: the data first, then io.EOF, and EOF
// again; a reset by the peer gives ECONNRESET, not EOF and not a hang.
func TestAttackRawDataThenEOFThenReset(t *testing.T) {
	c, peer := attackPair(t)
	peer.Write([]byte("tail"))
	peer.Close()
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "tail" {
		t.Fatalf("ReadAll: %q %v", got, err)
	}
	if _, err := c.Read(make([]byte, 4)); err != io.EOF {
		t.Fatalf("second read after EOF: %v", err)
	}

	c2, peer2 := attackPair(t)
	peer2.SetLinger(0)
	c2.Write([]byte("unread")) // unread data at the peer: close sends RST
	time.Sleep(20 * time.Millisecond)
	peer2.Close()
	c2.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err = c2.Read(make([]byte, 4))
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read after RST: %v, want ECONNRESET", err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("a reset reported as a timeout: %v", err)
	}
}

// A deadline set while a Read is parked fires; a deadline pushed back
// while parked lets the read complete.
func TestAttackRawDeadlineChangedWhileParked(t *testing.T) {
	c, peer := attackPair(t)
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 4))
		done <- err
	}()
	time.Sleep(30 * time.Millisecond)
	c.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("parked read: %v, want deadline exceeded", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("a deadline set while parked did not fire")
	}
	c.SetReadDeadline(time.Time{})
	go func() {
		_, err := c.Read(make([]byte, 4))
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	peer.Write([]byte("x"))
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("read after clearing the deadline: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("read after clearing the deadline hung")
	}
}

// alive(): an idle upstream connection the peer has closed is reported
// dead; an open one with nothing pending is reported alive. Compared with
// an unwrapped *net.TCPConn, so a failure shows whether the wrapping or
// alive() itself is at fault.
func TestAttackAliveDetectsPeerClose(t *testing.T) {
	for _, wrap := range []bool{false, true} {
		name := "net.TCPConn"
		if wrap {
			name = "rawTCP"
		}
		t.Run(name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			acc := make(chan net.Conn, 1)
			go func() { s, _ := ln.Accept(); acc <- s }()
			raw, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			peer := <-acc
			var c net.Conn = raw
			if wrap {
				c = rawConn(raw)
			}
			uc := &upConn{c: c, br: bufio.NewReaderSize(c, bufSize), bw: bufio.NewWriterSize(c, bufSize)}
			if !uc.alive() {
				t.Fatal("an open idle connection reported dead")
			}
			peer.Close()
			time.Sleep(50 * time.Millisecond)
			if uc.alive() {
				t.Fatal("an idle connection the upstream closed reported alive")
			}
		})
	}
}
