//go:build linux

package gateway

import (
	"errors"
	"io"
	"net"
	"syscall"
	"unsafe"
)

// rawTCP is a TCP connection whose reads and writes are made as raw
// system calls inside the runtime's poller (syscall.RawConn): a read that
// finds nothing still parks the goroutine until the socket is readable,
// exactly as net.TCPConn's does, but the call itself does not go through
// the scheduler's system-call bookkeeping.
//
// Why: on a loaded core, a write to a loopback socket wakes its reader,
// which may run before the writer returns. The runtime then sees a long
// system call, hands the processor to another thread and makes the writer
// wait for it back: thread switches, measured at about one every two
// requests under the gateway benchmark. A read or write of a non-blocking
// socket never blocks, so the bookkeeping buys nothing here. An epoll loop
// built on raw calls matched nginx where the same loop on the runtime's
// calls did not (bench/README.md).
type rawTCP struct {
	*net.TCPConn
	rc syscall.RawConn
}

// rawConn wraps c when it is a TCP connection, and returns it as is
// otherwise.
func rawConn(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	return &rawTCP{TCPConn: tc, rc: rc}
}

func (c *rawTCP) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	var n int
	var errno syscall.Errno
	err := c.rc.Read(func(fd uintptr) bool {
		for {
			r, e := rawRead(int(fd), b)
			switch e {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false // park until readable
			}
			n, errno = r, e
			return true
		}
	})
	switch {
	case err != nil:
		return 0, c.opError("read", err)
	case errno != 0:
		return 0, c.opError("read", errnoErr("read", errno))
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// quiet reports, without blocking, whether nothing waits to be read:
// neither bytes nor the peer's close.
func (c *rawTCP) quiet() bool {
	var b [1]byte
	quiet := false
	err := c.rc.Control(func(fd uintptr) {
		for {
			_, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), 1, syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
			if e != syscall.EINTR {
				quiet = e == syscall.EAGAIN
				return
			}
		}
	})
	return err == nil && quiet
}

func (c *rawTCP) Write(b []byte) (int, error) {
	written := 0
	var errno syscall.Errno
	err := c.rc.Write(func(fd uintptr) bool {
		for written < len(b) {
			r, e := rawWrite(int(fd), b[written:])
			switch e {
			case 0:
				written += r
			case syscall.EAGAIN:
				return false // park until writable
			case syscall.EINTR:
			default:
				errno = e
				return true
			}
		}
		return true
	})
	switch {
	case err != nil:
		return written, c.opError("write", err)
	case errno != 0:
		return written, c.opError("write", errnoErr("write", errno))
	}
	return written, nil
}

// opError makes err look as net.TCPConn's own errors do (*net.OpError,
// with the poller's deadline and closed-connection errors inside), which
// the HTTP server tells timeouts by.
func (c *rawTCP) opError(op string, err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) {
		err = oe.Err // the RawConn's own "raw-read" wrapping
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

func errnoErr(op string, e syscall.Errno) error {
	return &syscallError{op: op, errno: e}
}

// syscallError is os.SyscallError without importing os for it.
type syscallError struct {
	op    string
	errno syscall.Errno
}

func (e *syscallError) Error() string { return e.op + ": " + e.errno.Error() }
func (e *syscallError) Unwrap() error { return e.errno }
func (e *syscallError) Timeout() bool { return e.errno.Timeout() }

// rawRead and rawWrite are the one read and write of a socket both
// transports make (the event loop's and rawTCP's): recv and send, which
// skip the file layer read and write cross (vfs_read, vfs_write,
// fdget_pos: 4-5% of the loop's CPU per proxied JSON request in perf, on
// loopback). MSG_NOSIGNAL makes a write to a closed peer EPIPE without a
// signal.
func rawRead(fd int, b []byte) (int, syscall.Errno) {
	r, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), 0
}

func rawWrite(fd int, b []byte) (int, syscall.Errno) {
	r, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), syscall.MSG_NOSIGNAL, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), 0
}
