package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/keyward/keyward"
)

// codeStatus is the one table from error codes to HTTP statuses. The client
// reads statuses only when a body carries no code.
var codeStatus = map[string]int{
	keyward.EINVALID:      http.StatusBadRequest,
	keyward.EUNAUTHORIZED: http.StatusUnauthorized,
	keyward.EFORBIDDEN:    http.StatusForbidden,
	keyward.ENOTFOUND:     http.StatusNotFound,
	keyward.ECONFLICT:     http.StatusConflict,
	keyward.EPRECONDITION: http.StatusPreconditionFailed,
	keyward.ETHROTTLED:    http.StatusTooManyRequests,
	keyward.EUNAVAILABLE:  http.StatusServiceUnavailable,
	keyward.EINTERNAL:     http.StatusInternalServerError,
}

// errorBody is the JSON form of every error answer:
// {"error":{"code":"not_found","message":"..."}}.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// errBodyTooLarge is returned by the decoder when a body exceeds the limit:
// code invalid, status 413.
var errBodyTooLarge = &keyward.Error{Code: keyward.EINVALID, Message: "request body too large"}

// writeError answers with err's code and client-safe message. Errors that
// are not *keyward.Error, that carry EINTERNAL or an unknown code, become a
// bare "internal error" and are logged here with the route and request ID.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code, msg := keyward.ErrorCode(err), keyward.ErrorMessage(err)
	status, known := codeStatus[code]
	if !known || code == keyward.EINTERNAL {
		st := stateFrom(r.Context())
		s.log.LogAttrs(r.Context(), slog.LevelError, "admin request failed",
			slog.String("request_id", st.requestID),
			slog.String("route", routeLabel(st)),
			slog.String("error", err.Error()))
		code, msg, status = keyward.EINTERNAL, "internal error", http.StatusInternalServerError
	}
	if errors.Is(err, errBodyTooLarge) {
		status = http.StatusRequestEntityTooLarge
	}
	var ke *keyward.Error
	if errors.As(err, &ke) && ke.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(max(ke.RetryAfter, time.Second)/time.Second)))
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="keyward"`)
	}
	writeErrorBody(w, status, code, msg)
}

func writeErrorBody(w http.ResponseWriter, status int, code, msg string) {
	b, _ := json.Marshal(errorBody{Error: errorDetail{Code: code, Message: msg}}) // strings only: cannot fail
	writeRaw(w, status, b)
}
