package llmwire

import (
	"errors"
	"strconv"
)

// Refusal reasons. Every error returned by ParseRequest is an *Error that
// wraps exactly one of these, so callers can use errors.Is. All of them mean
// "bad request": the body is refused, nothing should be forwarded.
var (
	ErrSyntax               = errors.New("body is not valid JSON")
	ErrInvalidUTF8          = errors.New("body is not valid UTF-8")
	ErrNotObject            = errors.New("body is not a JSON object")
	ErrTrailingData         = errors.New("data after the JSON object")
	ErrTooDeep              = errors.New("JSON nested too deeply")
	ErrDuplicateKey         = errors.New("duplicate key")
	ErrAmbiguousKey         = errors.New("key differs from a known field only in case, Unicode folding, '_' or '-'")
	ErrInvalidKey           = errors.New("key has a lone surrogate or a control character")
	ErrInvalidModel         = errors.New("model must be a non-empty string without control characters")
	ErrInvalidMaxTokens     = errors.New("token limit must be an integer from 0 to 2147483647")
	ErrInvalidStream        = errors.New("stream must be true, false or null")
	ErrInvalidStreamOptions = errors.New("stream_options must be an object or null, include_usage true, false or null")
)

// Error is a refused request body. It never holds bytes of the body: Field
// is one of the field names this package knows ("model", "max_tokens",
// "stream_options.include_usage", ...) or empty, so Error() is safe to log and
// to send back to the client.
type Error struct {
	Err    error  // one of the Err* variables
	Field  string // the known field concerned, or ""
	Offset int    // byte offset in the body where the problem was found
}

func (e *Error) Error() string {
	s := "llmwire: " + e.Err.Error()
	if e.Field != "" {
		s += " (" + e.Field + ")"
	}
	return s + " at byte " + strconv.Itoa(e.Offset)
}

// Unwrap returns the reason, one of the Err* variables.
func (e *Error) Unwrap() error { return e.Err }

// code is the internal, allocation-free form of a refusal reason.
type code uint8

const (
	ok code = iota
	cSyntax
	cUTF8
	cNotObject
	cTrailing
	cTooDeep
	cDupKey
	cAmbiguousKey
	cInvalidKey
	cModel
	cMaxTokens
	cStream
	cStreamOptions
)

var codeErrs = [...]error{
	cSyntax:        ErrSyntax,
	cUTF8:          ErrInvalidUTF8,
	cNotObject:     ErrNotObject,
	cTrailing:      ErrTrailingData,
	cTooDeep:       ErrTooDeep,
	cDupKey:        ErrDuplicateKey,
	cAmbiguousKey:  ErrAmbiguousKey,
	cInvalidKey:    ErrInvalidKey,
	cModel:         ErrInvalidModel,
	cMaxTokens:     ErrInvalidMaxTokens,
	cStream:        ErrInvalidStream,
	cStreamOptions: ErrInvalidStreamOptions,
}
