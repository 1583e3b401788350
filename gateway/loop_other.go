//go:build !linux

package gateway

import (
	"context"
	"errors"
	"net"
)

// loopGroup: the event loop runs on Linux only (loop_linux.go); elsewhere
// fasthttp serves every connection.
type loopGroup struct{}

func (g *Gateway) loopable(net.Listener) (*net.TCPListener, bool) { return nil, false }

func (g *Gateway) serveLoops(*net.TCPListener) error {
	return errors.New("gateway: no event loop here")
}

func (*loopGroup) shutdown(context.Context) error { return nil }

func loopHandoffs(*loopGroup) int64 { return 0 }
