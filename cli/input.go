package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"unicode/utf8"
)

// maxSecretSize bounds a secret value read from stdin or a file (the Secrets
// Manager limit).
const maxSecretSize = 64 << 10

// maxDocumentSize bounds a policy document.
const maxDocumentSize = 1 << 20

// errTooLarge is returned by readLimited for input over the limit.
var errTooLarge = errors.New("input too large")

// readLimited reads the file at path, or stdin when path is "-", refusing
// more than max bytes.
func readLimited(path string, stdin io.Reader, max int64) ([]byte, error) {
	var r io.Reader
	if path == "-" {
		if stdin == nil {
			return nil, errors.New("no standard input")
		}
		r = stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%w: more than %d bytes", errTooLarge, max)
	}
	return b, nil
}

// readSecret reads a secret value from path ("-" is stdin) exactly as given:
// no newline is trimmed, so the bytes stored are the bytes read. Unless binary
// is set the value must be UTF-8 text. The value is remembered as sensitive.
func (e *env) readSecret(path, flag string, binary bool) ([]byte, error) {
	if path == "-" && e.stdinIsTerminal() {
		fmt.Fprintln(e.stderr, "keyward: reading the secret value from stdin; end it with Ctrl-D")
	}
	b, err := readLimited(path, e.stdin, maxSecretSize)
	if errors.Is(err, errTooLarge) {
		return nil, usagef("the secret value (%s) is larger than %d bytes", flag, maxSecretSize)
	}
	if err != nil {
		return nil, localf("read the secret value (%s): %v", flag, err)
	}
	if len(b) == 0 {
		return nil, usagef("the secret value (%s) is empty", flag)
	}
	if !binary && !utf8.Valid(b) {
		return nil, usagef("the secret value (%s) is not UTF-8 text; use --binary to store bytes", flag)
	}
	e.st.secret(string(b))
	return b, nil
}
