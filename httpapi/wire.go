package httpapi

import (
	"time"

	"github.com/keyward/keyward"
)

// This file holds the JSON shapes that are not domain types as they stand.
// Both the server and the Client use them, so the two cannot drift.

// listBody is every list answer: {"items":[...],"next":"..."}; next is
// omitted on the last page.
type listBody[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}

func newList[T any](items []T, next string) listBody[T] {
	if items == nil {
		items = []T{} // "items":[] rather than null
	}
	return listBody[T]{Items: items, Next: next}
}

// keyValueBody answers GET /v1/keys/{id}/value.
type keyValueBody struct {
	ID    string `json:"id"`
	Value string `json:"value"`
}

// tokenBody answers POST /v1/principals/{principal}/tokens.
type tokenBody struct {
	Token      string              `json:"token"`
	AdminToken *keyward.AdminToken `json:"adminToken"`
}

// secretCreateBody is the body of POST /v1/secrets. At most one of
// SecretString and SecretBinary (base64 in JSON) is set.
type secretCreateBody struct {
	Name         string            `json:"name"`
	Description  string            `json:"description,omitempty"`
	Tags         map[string]string `json:"tags,omitempty"`
	SecretString *string           `json:"secretString,omitempty"`
	SecretBinary []byte            `json:"secretBinary,omitempty"`
	ClientToken  string            `json:"clientToken,omitempty"`
}

// secretPutBody is the body of POST /v1/secrets/{name}/versions.
type secretPutBody struct {
	SecretString  *string  `json:"secretString,omitempty"`
	SecretBinary  []byte   `json:"secretBinary,omitempty"`
	ClientToken   string   `json:"clientToken,omitempty"`
	VersionStages []string `json:"versionStages,omitempty"`
}

// secretValueBody answers GET /v1/secrets/{name}/value: the value is in
// secretString, or base64 in secretBinary for binary secrets.
type secretValueBody struct {
	Name          string    `json:"name"`
	VersionID     string    `json:"versionId"`
	VersionStages []string  `json:"versionStages"`
	CreatedAt     time.Time `json:"createdAt"`
	SecretString  *string   `json:"secretString,omitempty"`
	SecretBinary  []byte    `json:"secretBinary,omitempty"`
}

// secretPayload turns the two wire fields into a value and its kind.
func secretPayload(str *string, bin []byte) (value []byte, binary bool, err error) {
	switch {
	case str != nil && bin != nil:
		return nil, false, keyward.Errorf(keyward.EINVALID, "set secretString or secretBinary, not both")
	case bin != nil:
		return bin, true, nil
	case str != nil:
		return []byte(*str), false, nil
	}
	return nil, false, nil
}

// healthBody answers /healthz and /readyz.
type healthBody struct {
	Status string     `json:"status"`
	Node   *NodeState `json:"node,omitempty"` // /readyz, when the server tells
}

// NodeState is what /readyz says of the node: its store, its change feed
// and, on a cluster, whether it leads.
type NodeState struct {
	Store      string `json:"store"`      // sqlite or postgres
	ChangeFeed string `json:"changeFeed"` // local (one node), listening or reconnecting
	Leader     bool   `json:"leader"`     // runs the scheduler, dispatcher and checkpointer
}
