// Package httpapi is the HTTP adapter of keyward's admin API, both sides of
// it: NewHandler serves the domain services over JSON, and Client implements
// the same service interfaces against a remote server, for the CLI and the
// Pulumi provider.
//
// The layer is deliberately thin. A request is authenticated (admin bearer
// token), a keyward.Caller is put into its context, the body is decoded
// strictly, one service method is called and its answer encoded. Everything
// that needs judgement (authorization by policy, validation, audit) lives in
// the core behind the service interfaces, so that the HTTP API, the
// AWS-compatible endpoint and any future surface enforce the same rules.
//
// What this layer does own:
//   - the route table (Routes), where every admin route names exactly one
//     keyward.Action, and the OpenAPI document that describes it;
//   - the mapping of error codes to HTTP statuses (one table, errors.go) and
//     the guarantee that internal error detail never reaches a client;
//   - what is logged about a request (an allow-list of fields, with control
//     characters removed from anything the client controls) and what is
//     measured (route templates, never raw paths);
//   - which address a request comes from: the socket's peer, unless that peer
//     is a configured trusted proxy.
package httpapi
