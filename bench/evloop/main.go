//go:build linux

// Command evloop is a measuring stick, not part of keyward: the least a Go
// reverse proxy can spend per request on this machine. One epoll loop on
// one locked thread serves the clients and its upstream connections, with
// a check of the key header and no other work; it handles only what the
// shared harness sends (bodies with Content-Length, chunked responses).
// bench/evloop.sh runs it on the harness beside nginx; EVLOOP_SYSCALL=runtime
// makes its reads and writes through the runtime's system calls instead of
// raw ones. bench/README.md has the figures.
//
// usage: evloop LISTEN_ADDR UPSTREAM_ADDR   (BENCH_KEY in the environment)
package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

type conn struct {
	fd   int
	up   bool
	in   []byte
	peer *conn
	// upstream response state
	hdr     bool // header seen
	clen    int  // remaining body bytes (content-length)
	chunked bool
	cst     int // chunk state: 0 size line, 1 data, 2 data CRLF, 3 final CRLF
	csz     int
	sizeBuf []byte
}

var (
	read  = rawRead
	write = rawWrite
	epfd  int
	conns = make([]*conn, 1<<16)
	idle  []*conn
	upSA  unix.Sockaddr
	key   []byte
)

func main() {
	runtime.LockOSThread()
	if os.Getenv("EVLOOP_SYSCALL") == "runtime" {
		read, write = unix.Read, unix.Write
	}
	ln, _ := net.ResolveTCPAddr("tcp", os.Args[1])
	ua, _ := net.ResolveTCPAddr("tcp", os.Args[2])
	key = []byte(os.Getenv("BENCH_KEY"))
	upSA = &unix.SockaddrInet4{Port: ua.Port, Addr: [4]byte(ua.IP.To4())}
	lfd, _ := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
	unix.SetsockoptInt(lfd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	if err := unix.Bind(lfd, &unix.SockaddrInet4{Port: ln.Port, Addr: [4]byte(ln.IP.To4())}); err != nil {
		panic(err)
	}
	unix.Listen(lfd, 4096)
	epfd, _ = unix.EpollCreate1(0)
	unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, lfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(lfd)})
	events := make([]unix.EpollEvent, 256)
	buf := make([]byte, 65536)
	for {
		n, err := unix.EpollWait(epfd, events, -1)
		if err != nil {
			continue
		}
		for i := 0; i < n; i++ {
			fd := int(events[i].Fd)
			if fd == lfd {
				for {
					nfd, _, err := unix.Accept4(lfd, unix.SOCK_NONBLOCK)
					if err != nil {
						break
					}
					unix.SetsockoptInt(nfd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
					c := &conn{fd: nfd}
					conns[nfd] = c
					unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, nfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(nfd)})
				}
				continue
			}
			c := conns[fd]
			if c == nil {
				continue
			}
			m, err := read(fd, buf)
			if m <= 0 {
				if err == unix.EAGAIN {
					continue
				}
				closeConn(c)
				continue
			}
			if c.up {
				upstreamData(c, buf[:m])
			} else {
				c.in = append(c.in, buf[:m]...)
				if c.peer == nil {
					request(c)
				}
			}
		}
	}
}

func closeConn(c *conn) {
	unix.EpollCtl(epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
	unix.Close(c.fd)
	conns[c.fd] = nil
	if c.peer != nil {
		c.peer.peer = nil
		if c.up {
			closeConn(c.peer)
		}
	}
}

func writeAll(fd int, b []byte) {
	for len(b) > 0 {
		n, err := write(fd, b)
		if n > 0 {
			b = b[n:]
		}
		if err != nil && err != unix.EAGAIN {
			return
		}
	}
}

var crlf2 = []byte("\r\n\r\n")

func header(h []byte, name string) []byte {
	for len(h) > 0 {
		line := h
		if i := bytes.IndexByte(h, '\n'); i >= 0 {
			line, h = h[:i], h[i+1:]
		} else {
			h = nil
		}
		k, v, ok := bytes.Cut(line, colon)
		if ok && len(k) == len(name) && asciiEq(k, name) {
			return bytes.TrimSpace(v)
		}
	}
	return nil
}

var colon = []byte(":")

func asciiEq(a []byte, b string) bool {
	for i := range a {
		c := a[i]
		if 'A' <= c && c <= 'Z' {
			c += 32
		}
		if c != b[i] {
			return false
		}
	}
	return true
}

func request(c *conn) {
	end := bytes.Index(c.in, crlf2)
	if end < 0 {
		return
	}
	h := c.in[:end]
	total := end + 4
	if cl := header(h, "content-length"); cl != nil {
		n, _ := strconv.Atoi(string(cl))
		total += n
	}
	if len(c.in) < total {
		return
	}
	if !bytes.Equal(header(h, "x-api-key"), key) {
		writeAll(c.fd, []byte("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n"))
		c.in = c.in[total:]
		return
	}
	var up *conn
	if len(idle) > 0 {
		up = idle[len(idle)-1]
		idle = idle[:len(idle)-1]
	} else {
		fd, _ := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
		if err := unix.Connect(fd, upSA); err != nil {
			panic(err)
		}
		unix.SetNonblock(fd, true)
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		up = &conn{fd: fd, up: true}
		conns[fd] = up
		unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)})
	}
	up.peer, c.peer = c, up
	up.hdr, up.clen, up.chunked, up.cst, up.in = false, 0, false, 0, up.in[:0]
	writeAll(up.fd, c.in[:total])
	c.in = c.in[total:]
}

func upstreamData(up *conn, b []byte) {
	c := up.peer
	if c == nil {
		closeConn(up)
		return
	}
	done := false
	if !up.hdr {
		up.in = append(up.in, b...)
		end := bytes.Index(up.in, crlf2)
		if end < 0 {
			return
		}
		up.hdr = true
		h := up.in[:end]
		body := up.in[end+4:]
		if cl := header(h, "content-length"); cl != nil {
			up.clen = atoi(cl)
			up.clen -= len(body)
			done = up.clen <= 0
		} else {
			up.chunked = true
			done = chunks(up, body)
		}
		writeAll(c.fd, up.in)
	} else {
		if up.chunked {
			done = chunks(up, b)
		} else {
			up.clen -= len(b)
			done = up.clen <= 0
		}
		writeAll(c.fd, b)
	}
	if done {
		up.peer, c.peer = nil, nil
		idle = append(idle, up)
		if len(c.in) > 0 {
			request(c)
		}
	}
}

// chunks advances the chunked-body state over b; true at the body's end.
func chunks(up *conn, b []byte) bool {
	for len(b) > 0 {
		switch up.cst {
		case 0: // size line
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				up.sizeBuf = append(up.sizeBuf, b...)
				return false
			}
			up.sizeBuf = append(up.sizeBuf, b[:i]...)
			s := bytes.TrimSpace(up.sizeBuf)
			if j := bytes.IndexByte(s, ';'); j >= 0 {
				s = s[:j]
			}
			n, err := strconv.ParseInt(string(s), 16, 64)
			if err != nil {
				panic(fmt.Sprintf("chunk size %q", s))
			}
			up.sizeBuf = up.sizeBuf[:0]
			b = b[i+1:]
			up.csz = int(n)
			if n == 0 {
				up.cst, up.csz = 3, 2
			} else {
				up.cst = 1
			}
		case 1:
			k := min(up.csz, len(b))
			up.csz -= k
			b = b[k:]
			if up.csz == 0 {
				up.cst, up.csz = 2, 2
			}
		case 2, 3:
			k := min(up.csz, len(b))
			up.csz -= k
			b = b[k:]
			if up.csz == 0 {
				if up.cst == 3 {
					up.cst = 0
					return true
				}
				up.cst = 0
			}
		}
	}
	return false
}

func atoi(b []byte) int {
	n := 0
	for _, c := range b {
		n = n*10 + int(c-'0')
	}
	return n
}

func rawRead(fd int, b []byte) (int, error) {
	n, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if e != 0 {
		return -1, e
	}
	return int(n), nil
}

func rawWrite(fd int, b []byte) (int, error) {
	n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if e != 0 {
		return -1, e
	}
	return int(n), nil
}
