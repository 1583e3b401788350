// Package llmwire reads the few fields of OpenAI-compatible request and
// response bodies that the gateway acts on: the model a request names (checked
// against the key's allowed models), its token limit and streaming options,
// and the token usage an upstream reports.
//
// # Why so strict
//
// The model check is only as good as the agreement between what the gateway
// reads and what the upstream reads. JSON parsers disagree on exactly the
// inputs an attacker would send:
//
//   - Duplicate keys: Python's json.loads, JavaScript and Go keep the last
//     value, other parsers the first, others fail. {"model":"allowed",
//     "model":"expensive"} must not be read as "allowed" by the gateway and as
//     "expensive" upstream.
//   - Case: Go's encoding/json matches struct fields case-insensitively, with
//     Unicode simple folding (the Kelvin sign K folds to k, the long s ſ to s),
//     and encoding/json/v2 with case:ignore also ignores '_' and '-'. Python is
//     case-sensitive. {"model":"a","Model":"b"} or {"ſtream":true} mean
//     different things to different upstreams.
//   - Escapes: "mod\u0065l" is "model" to every conforming parser, so keys are
//     compared after decoding; lone surrogates (\ud800) are kept by Python,
//     replaced by U+FFFD in Go, refused by Rust: refused here in the keys and
//     values we read.
//   - Encodings and framing: a UTF-8 BOM (accepted by Python's bytes
//     detection, refused by Go), UTF-16, invalid UTF-8 (replaced by Go, refused
//     by Python), trailing data (a streaming decoder reads the first object
//     and stops; json.loads fails), NaN and non-integer numbers.
//   - Types: a lax validator (pydantic) turns "stream":"true" or
//     "max_tokens":"100" into a bool or an int.
//
// So the rule is: accept only bodies that every reasonable parser reads the
// same way, and refuse the rest with a typed *Error (an HTTP 400), rather than
// guess what a particular upstream does. ParseRequest accepts exactly one
// RFC 8259 JSON object in valid UTF-8 whose top-level keys are unique after
// unescaping, where no key is a case, Unicode-fold or '_'/'-' variant of a
// field we read, and where those fields have the expected type. Everything
// else in the body (messages, tools, ...) is validated for syntax and
// nesting depth but otherwise passed through untouched.
//
// Responses come from the upstream, which is trusted to be well-formed:
// ParseUsage and SSEUsage are lenient, and report no usage for what they
// cannot read rather than an error.
//
// Everything here runs on every request, so the parsers are single-pass
// scanners over the raw bytes that do not allocate in the common case
// (no escapes in keys or in the model).
package llmwire
