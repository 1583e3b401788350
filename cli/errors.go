package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"strings"

	"github.com/keyward/keyward"
)

// Exit codes of the keyward command. Scripts may rely on them.
const (
	ExitOK           = 0 // success
	ExitError        = 1 // any other error: internal, unavailable, precondition, throttled, local I/O
	ExitUsage        = 2 // bad command line, or input the server rejected as invalid
	ExitNotFound     = 3 // no such resource
	ExitUnauthorized = 4 // missing or bad admin token, or denied by policy
	ExitConflict     = 5 // already exists, already attached, idempotency token reused
	ExitAuditBroken  = 6 // audit verification found the log, file or proof broken
	// ExitAuditUnpinned: audit verification found nothing wrong, but had no
	// pinned key (--public-key-file), so it proved only internal
	// consistency; an UNPINNED line says so.
	ExitAuditUnpinned = 7
)

// exitCodes maps domain error codes to exit codes; codes not listed exit 1.
var exitCodes = map[string]int{
	keyward.EINVALID:      ExitUsage,
	keyward.ENOTFOUND:     ExitNotFound,
	keyward.EUNAUTHORIZED: ExitUnauthorized,
	keyward.EFORBIDDEN:    ExitUnauthorized,
	keyward.ECONFLICT:     ExitConflict,
}

// usageError is a mistake on the command line: a bad flag, a missing
// argument, a value that does not parse. It exits 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// usagef returns a usage error. Never format a secret into it.
func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exitError ends the command with a given exit code and no further message:
// the command has already said what happened (audit verify).
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// localError is a failure on this machine (a file that cannot be read or
// written). Its text is ours or the operating system's, so it is shown as is.
type localError struct{ err error }

func (e *localError) Error() string { return e.err.Error() }
func (e *localError) Unwrap() error { return e.err }

func localf(format string, args ...any) error {
	return &localError{err: fmt.Errorf(format, args...)}
}

// report classifies err and returns the line to print (without the trailing
// newline; "" for none) and the exit code.
//
//   - *keyward.Error: "keyward: <code>: <message>", exit by code;
//   - usage errors: "keyward: usage: <message>", exit 2;
//   - transport failures: "keyward: unavailable: <detail>", exit 1;
//   - local failures, and errors of commands added with NewRoot's extra
//     argument: "keyward: error: <detail>", exit 1.
//
// The keyward commands themselves never return other errors: see
// safeError, which turns what a service call returns into one of the above.
func report(err error) (string, int) {
	if err == nil {
		return "", ExitOK
	}
	var (
		ee *exitError
		ue *usageError
		de *keyward.Error
	)
	switch {
	case errors.As(err, &ee):
		return "", ee.code
	case errors.As(err, &ue):
		return "keyward: usage: " + ue.msg, ExitUsage
	case errors.As(err, &de):
		code, ok := exitCodes[de.Code]
		if !ok {
			code = ExitError
		}
		return fmt.Sprintf("keyward: %s: %s", de.Code, de.Message), code
	case errors.Is(err, context.Canceled):
		return "keyward: error: interrupted", ExitError
	case isTransport(err):
		return "keyward: " + keyward.EUNAVAILABLE + ": " + err.Error(), ExitError
	default:
		return "keyward: error: " + err.Error(), ExitError
	}
}

// safeError returns err if report knows how to show it safely, and otherwise
// the domain's "internal error": an unrecognised error from a service call may
// carry detail (a response body, say) that is not meant for the terminal.
func safeError(err error) error {
	var (
		ee *exitError
		ue *usageError
		de *keyward.Error
		le *localError
		pe *fs.PathError
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee), errors.As(err, &ue), errors.As(err, &de), errors.As(err, &le),
		errors.Is(err, context.Canceled), isTransport(err):
		return err
	case errors.As(err, &pe):
		return &localError{err: err}
	default:
		return &keyward.Error{Code: keyward.EINTERNAL, Message: keyward.ErrorMessage(err)}
	}
}

// isTransport reports whether err is a failure to talk to the server at all
// (connection refused, timeout, TLS), whose text names only the address.
func isTransport(err error) bool {
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded)
}

// printError writes err's report line to w with every sensitive string
// replaced, and returns the exit code.
func printError(w io.Writer, err error, hint string, sensitive []string) int {
	line, code := report(err)
	if line == "" {
		return code
	}
	line = redact(line, sensitive)
	fmt.Fprintln(w, sanitizeLine(line))
	if code == ExitUsage && hint != "" {
		var ue *usageError
		if errors.As(err, &ue) {
			fmt.Fprintln(w, hint)
		}
	}
	return code
}

// redact replaces each sensitive string (the admin token, values read from
// stdin or files) in s. Very short strings are left alone: replacing them
// would garble the message and they cannot be told apart from ordinary text.
func redact(s string, sensitive []string) string {
	for _, v := range sensitive {
		if len(v) >= 6 {
			s = strings.ReplaceAll(s, v, "[redacted]")
		}
	}
	return s
}
