// Package cli is keyward's command line: `keyward <noun> <verb>` over the
// admin API, in the style of gh and aws.
//
// The commands speak only the domain's service interfaces (the Client
// interface below), so they are tested with an in-memory fake; the HTTP
// client is wired in one file (client.go) and the audit JSONL codec in
// another (audit.go).
//
// Promises made to people and scripts:
//   - tables for people, `-o json` for scripts, with field names taken from
//     the domain types, so they stay stable;
//   - exit codes that mean something (see the Exit* constants);
//   - secrets (the admin token, secret values, imported key values) are read
//     from the environment, files or stdin, never from argv, and never appear
//     in an error message;
//   - errors are printed as "keyward: <code>: <message>" on stderr.
package cli
