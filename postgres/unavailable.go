package postgres

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/keyward/keyward"
)

// retryAfter is what a caller is told to wait when the database is down.
const retryAfter = 5 * time.Second

// errUnavailable is the error of a call made while the database cannot be
// reached: 503 with Retry-After on the admin API. The gateway does not see
// it: it serves from memory.
var errUnavailable = &keyward.Error{Code: keyward.EUNAVAILABLE,
	Message: "the database cannot be reached; try again shortly", RetryAfter: retryAfter}

// unavailable returns errUnavailable for an error that says the database
// could not be reached or the connection was lost, and err otherwise.
// A caller's own context ending is not the database's doing (and
// context.DeadlineExceeded passes for a net.Error): it is returned as is.
func unavailable(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || !connectionLost(err) {
		return err
	}
	return errUnavailable
}

func connectionLost(err error) bool {
	var ce *pgconn.ConnectError
	var ne net.Error
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &ce), errors.As(err, &ne),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, driver.ErrBadConn),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true
	case errors.As(err, &pe):
		// Class 08: connection exception; 57P01-03: the server is
		// shutting down or starting.
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	return strings.Contains(err.Error(), "conn closed")
}
