package gateway

import "net"

// rawListener accepts connections wrapped by rawConn.
type rawListener struct{ net.Listener }

func (l rawListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return rawConn(c), nil
}
