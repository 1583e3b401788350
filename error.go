package keyward

import (
	"errors"
	"fmt"
	"time"
)

// Error codes. Every error that reaches a client carries one of these and a
// message safe to show; anything else becomes EINTERNAL and its detail is
// logged server-side only. The HTTP adapter maps codes to statuses in one
// table.
const (
	ECONFLICT     = "conflict"     // already exists, or an idempotency token reused with other input
	EINTERNAL     = "internal"     // anything unexpected; detail never leaves the server
	EINVALID      = "invalid"      // malformed or out-of-range input
	ENOTFOUND     = "not_found"    // no such resource (or not visible)
	EFORBIDDEN    = "forbidden"    // authenticated but denied by policy
	EUNAUTHORIZED = "unauthorized" // missing or bad admin credential
	ETHROTTLED    = "throttled"    // a limit was reached
	EPRECONDITION = "precondition" // the resource is in a state that forbids the call (e.g. pending deletion)
	EUNAVAILABLE  = "unavailable"  // a dependency is down; the call may be retried
)

// Error is the error type of the domain: a code and a message safe for clients.
// It never wraps internal detail, so marshalling it cannot leak.
type Error struct {
	Code    string
	Message string
	// RetryAfter, for EUNAVAILABLE, is when the call is worth trying
	// again (a database that is down); 0 when unknown.
	RetryAfter time.Duration
}

// Error implements error.
func (e *Error) Error() string { return fmt.Sprintf("keyward: %s: %s", e.Code, e.Message) }

// Errorf returns an *Error with the given code and a formatted message. Never
// format a secret into it.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err, EINTERNAL for errors that are not *Error,
// and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the client-safe message of err; for errors that are not
// *Error it is a generic text.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
