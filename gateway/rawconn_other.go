//go:build !linux

package gateway

import "net"

// rawConn returns c: raw reads and writes are for Linux (rawconn.go).
func rawConn(c net.Conn) net.Conn { return c }
