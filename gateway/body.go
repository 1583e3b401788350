package gateway

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// errBadChunk is a malformed chunked body from the upstream.
var errBadChunk = errors.New("gateway: malformed chunked body from upstream")

// bodyReader reads an upstream response body framed by Content-Length,
// chunked transfer coding, or the connection's end. Read never waits for
// more once it has something to return: it decodes whatever the
// connection's buffer already holds (several chunks at once when the
// upstream sent a burst) and returns, so each event reaches the client as
// soon as it arrives and bursts go out in one write.
type bodyReader struct {
	br        *bufio.Reader
	chunked   bool
	untilEOF  bool
	remaining int64 // Content-Length: bytes left; chunked: bytes left in the current chunk
	done      bool  // the body ended cleanly (the connection may be reused)
	inChunk   bool  // chunked: inside a chunk's data
	needCRLF  bool  // chunked: a chunk's data ended, its line end is next
	inTrailer bool  // chunked: the last chunk came; trailer lines until an empty one
	stepwise  bool  // never read past the buffered bytes, even for the first (the event loop's)
	err       error
}

func (b *bodyReader) reset(br *bufio.Reader, contentLength int) {
	*b = bodyReader{br: br}
	switch {
	case contentLength >= 0:
		b.remaining = int64(contentLength)
		b.done = contentLength == 0
	case contentLength == -1:
		b.chunked = true
	default:
		b.untilEOF = true
	}
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	if b.err != nil {
		return 0, b.err
	}
	var n int
	var err error
	switch {
	case b.chunked:
		n, err = b.readChunked(p)
	case b.untilEOF:
		n, err = b.br.Read(p)
		if err == io.EOF {
			b.done = true
		}
	default:
		if int64(len(p)) > b.remaining {
			p = p[:b.remaining]
		}
		p = throughBuffer(b.br, p)
		n, err = b.br.Read(p)
		b.remaining -= int64(n)
		if b.remaining == 0 {
			b.done = true
			err = nil
		} else if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
	}
	if err != nil && err != io.EOF {
		b.err = err
	}
	if b.done && err == nil && n == 0 {
		return 0, io.EOF
	}
	return n, err
}

// throughBuffer shortens p so that br reads into its own buffer rather
// than straight into p: a read straight into p stops where the body does,
// leaving whatever the upstream sent past it in the socket, where release
// cannot see it; through the buffer those bytes show as Buffered.
func throughBuffer(br *bufio.Reader, p []byte) []byte {
	if n := br.Size() - 1; len(p) > n {
		return p[:n]
	}
	return p
}

// readChunked decodes chunks into p. It blocks only while p is empty;
// after that it goes on only as far as the buffered bytes reach.
func (b *bodyReader) readChunked(p []byte) (int, error) {
	n := 0
	for n < len(p) && !b.done {
		if (n > 0 || b.stepwise) && !b.bufferedAhead() {
			break
		}
		switch {
		case b.needCRLF:
			if err := b.crlf(); err != nil {
				return n, err
			}
			b.needCRLF = false
		case b.inTrailer:
			// A line at a time, so that a long trailer section need not
			// fit in the buffer.
			line, err := b.line()
			if err != nil {
				return n, err
			}
			b.done = len(line) == 0
		case !b.inChunk:
			size, err := b.chunkHeader()
			if err != nil {
				return n, err
			}
			if size == 0 {
				b.inTrailer = true
				break
			}
			b.remaining, b.inChunk = size, true
		default:
			want := min(int64(len(throughBuffer(b.br, p[n:]))), b.remaining)
			if n > 0 {
				want = min(want, int64(b.br.Buffered()))
			}
			m, err := b.br.Read(p[n : n+int(want)])
			n += m
			b.remaining -= int64(m)
			if err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return n, err
			}
			if b.remaining == 0 {
				b.inChunk, b.needCRLF = false, true
			}
		}
	}
	return n, nil
}

// bufferedAhead reports whether the next step can run on buffered bytes
// alone: some of the current chunk's data, or a whole line (a chunk's
// line end, a chunk-size line, a trailer line).
func (b *bodyReader) bufferedAhead() bool {
	buf, _ := b.br.Peek(b.br.Buffered())
	if b.inChunk {
		return len(buf) > 0
	}
	return bytes.IndexByte(buf, '\n') >= 0 // a whole line: CRLF, chunk size or trailer
}

// lastChunk reports whether a chunk-size line (without its "\n") announces
// the zero-length last chunk.
func lastChunk(line []byte) bool {
	n, ok := parseChunkSize(line)
	return ok && n == 0
}

// maxChunkLine bounds a chunk-size line (hex size plus extensions).
const maxChunkLine = 4096

// chunkHeader reads "<hex size>[;ext...]\r\n" and returns the size.
func (b *bodyReader) chunkHeader() (int64, error) {
	line, err := b.line()
	if err != nil {
		return 0, err
	}
	size, ok := parseChunkSize(line)
	if !ok {
		return 0, errBadChunk
	}
	return size, nil
}

// crlf reads the line end after a chunk's data.
func (b *bodyReader) crlf() error {
	line, err := b.line()
	if err != nil {
		return err
	}
	if len(line) != 0 {
		return errBadChunk
	}
	return nil
}

// line reads one line without its "\r\n" (or bare "\n").
func (b *bodyReader) line() ([]byte, error) {
	line, err := b.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull || len(line) > maxChunkLine {
		return nil, errBadChunk
	}
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// arrivedWhole reports whether br's buffer holds a whole chunked body,
// last chunk and trailer included, and its decoded size. It reads
// nothing.
func arrivedWhole(br *bufio.Reader) (int, bool) {
	buf, _ := br.Peek(br.Buffered())
	return wholeChunked(buf)
}

// wholeChunked reports whether buf starts with a whole chunked body, last
// chunk and trailer included, and its decoded size.
func wholeChunked(buf []byte) (int, bool) {
	size := 0
	for {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			return 0, false
		}
		if i+1 > maxChunkLine {
			return 0, false // the reader refuses a line this long
		}
		line := buf[:i]
		if lastChunk(line) {
			return size, trailerArrived(buf[i+1:])
		}
		n, ok := parseChunkSize(line)
		if !ok || n > int64(len(buf)) {
			return 0, false
		}
		buf = buf[i+1:]
		if int64(len(buf)) < n+1 {
			return 0, false
		}
		size += int(n)
		buf = buf[n:]
		switch {
		case bytes.HasPrefix(buf, []byte("\r\n")):
			buf = buf[2:]
		case bytes.HasPrefix(buf, []byte("\n")):
			buf = buf[1:]
		default:
			return 0, false // malformed or not all here: let the reader decide
		}
	}
}

// trailerArrived reports whether buf starts with a whole trailer section
// (up to its empty line) that the reader accepts: no line over maxChunkLine.
func trailerArrived(buf []byte) bool {
	for {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 || i+1 > maxChunkLine {
			return false
		}
		if i == 0 || (i == 1 && buf[0] == '\r') {
			return true
		}
		buf = buf[i+1:]
	}
}

// parseChunkSize parses a chunk-size line (without its "\n").
func parseChunkSize(line []byte) (int64, bool) {
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	for len(line) > 0 && (line[len(line)-1] == ' ' || line[len(line)-1] == '\t' || line[len(line)-1] == '\r') {
		line = line[:len(line)-1] // bytes.TrimRight builds its set on every call
	}
	if len(line) == 0 || len(line) > 15 {
		return 0, false
	}
	var size int64
	for _, c := range line {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		size = size<<4 | int64(d)
	}
	return size, true
}
