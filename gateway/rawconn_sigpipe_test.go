//go:build linux

package gateway

import (
	"errors"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"
)

// A write to a peer that reset the connection fails with EPIPE and raises
// no SIGPIPE: both transports write through rawWrite (MSG_NOSIGNAL), so a
// program that asks for SIGPIPE (signal.Notify) is not sent one for every
// client that hangs up mid-answer. With write(2) instead of send, the
// signal arrives on the channel below.
func TestAWriteToAResetPeerRaisesNoSIGPIPE(t *testing.T) {
	rc, peer := rawPair(t)
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGPIPE)
	defer signal.Stop(sig)

	peer.(interface{ SetLinger(int) error }).SetLinger(0)
	peer.Close() // RST
	var b [16]byte
	if _, err := rc.Read(b[:]); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read after the peer's reset: %v, want ECONNRESET", err)
	}
	// The reset is consumed: every write from now on is EPIPE, the errno
	// that comes with SIGPIPE.
	for range 3 {
		if _, err := rc.Write([]byte("data: more\n\n")); !errors.Is(err, syscall.EPIPE) {
			t.Fatalf("write after the reset: %v, want EPIPE", err)
		}
	}
	select {
	case s := <-sig:
		t.Fatalf("a write to a reset peer raised %v", s)
	case <-time.After(200 * time.Millisecond): // a raised signal is on the channel within microseconds
	}
}
