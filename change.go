package keyward

import "context"

// ChangeKind says what sort of object a Change is about.
type ChangeKind string

// Kinds of change the gateway cares about.
const (
	ChangeKey    ChangeKind = "apikey"
	ChangeAPI    ChangeKind = "api"
	ChangePlan   ChangeKind = "plan"
	ChangeSecret ChangeKind = "secret"
	// ChangeAccess: principals, admin tokens, policies or their
	// attachments changed; every node forgets what it cached of them.
	// Gateways ignore it.
	ChangeAccess ChangeKind = "access"
)

// Change is a notice, published after a commit, that an object changed. It
// carries no data: a gateway reloads what it needs from the store, so a
// lost or duplicated notice costs a reload, never a wrong answer.
type Change struct {
	Kind ChangeKind `json:"kind"`
	ID   string     `json:"id,omitempty"` // "" when not known
	// IDs name the objects of a change to many (an import batch); a feed
	// that cannot carry them may drop them, making the notice "something
	// of this kind changed".
	IDs []string `json:"ids,omitempty"`
}

// ChangeFeed carries changes from the node that made them to every gateway.
// In one process it is a channel fan-out; across nodes a PostgreSQL
// LISTEN/NOTIFY implementation satisfies the same contract.
type ChangeFeed interface {
	// Publish announces c to subscribers. It never blocks on a slow one.
	Publish(ctx context.Context, c Change)
	// Subscribe returns a channel of changes and a function that ends the
	// subscription. The channel is buffered; when a subscriber falls
	// behind, changes are coalesced, never dropped silently: at least one
	// notice arrives after the last Publish.
	Subscribe() (<-chan Change, func())
}
