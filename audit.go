package keyward

import (
	"context"
	"encoding/json"
	"time"
)

// AuditEvent is one audited call, shaped like a CloudTrail record. Secret
// material never appears in it: values are replaced by an HMAC marker
// ("hmac-sha256:<hex>") before the event is built.
type AuditEvent struct {
	EventVersion      string         `json:"eventVersion"`
	EventID           string         `json:"eventID"`
	EventTime         time.Time      `json:"eventTime"`
	EventSource       string         `json:"eventSource"` // "keyward", later "apigateway.amazonaws.com", ...
	EventName         string         `json:"eventName"`   // the action, e.g. "apikeys:Create"
	EventType         string         `json:"eventType"`   // EventTypeCall, EventTypeValueRead, ...
	UserIdentity      UserIdentity   `json:"userIdentity"`
	SourceIPAddress   string         `json:"sourceIPAddress,omitempty"`
	UserAgent         string         `json:"userAgent,omitempty"`
	RequestParameters map[string]any `json:"requestParameters,omitempty"`
	ResponseElements  map[string]any `json:"responseElements,omitempty"`
	Resources         []string       `json:"resources,omitempty"`
	ErrorCode         string         `json:"errorCode,omitempty"`
	ErrorMessage      string         `json:"errorMessage,omitempty"`
	RequestID         string         `json:"requestID,omitempty"`
	ReadOnly          bool           `json:"readOnly"`
}

// Audit event types.
const (
	EventTypeCall      = "AdminCall" // an admin call, allowed or not
	EventTypeValueRead = "ValueRead" // a secret value or key value was returned
	EventTypeSystem    = "System"    // something the server did by itself
)

// AuditEventVersion is the version of the AuditEvent shape.
const AuditEventVersion = "1.0"

// UserIdentity names the caller of an audited call.
type UserIdentity struct {
	Type        string `json:"type"` // "Principal", "Anonymous", "System"
	PrincipalID string `json:"principalId,omitempty"`
	ARN         string `json:"arn,omitempty"`
	AccessKeyID string `json:"accessKeyId,omitempty"` // the admin token's ID, never its value
	UserName    string `json:"userName,omitempty"`
}

// AuditRecord is one leaf of the audit log, a Merkle tree in the RFC 6962
// shape: Seq numbers leaves from 1, Hash is the lowercase hex of the leaf
// hash SHA-256(0x00 ‖ Event), and Event holds the canonical bytes of the
// event exactly as hashed.
//
// Tag is an HMAC of the leaf under a key the database never holds (the tail
// key); it authenticates records not yet covered by a checkpoint. It never
// leaves the server. Records carried from the pre-tree chain have none.
type AuditRecord struct {
	Seq   int64           `json:"seq"`
	Hash  string          `json:"hash"`
	Event json.RawMessage `json:"event"`
	Tag   []byte          `json:"-"`
}

// AuditCheckpoint is a signed tree head: the audit log's first Size records
// hash to Root. Note is the checkpoint in the C2SP tlog-checkpoint signed-note
// format, signed with the server's Ed25519 key; it is what a verifier checks,
// and the other fields are read from it.
type AuditCheckpoint struct {
	Size int64     `json:"size"`
	Root string    `json:"root"` // lowercase hex of the tree hash
	Time time.Time `json:"time"`
	Note string    `json:"note"`
}

// AuditProof proves that the record Seq is in the tree of the checkpoint:
// Proof holds the RFC 6962 inclusion proof, lowercase hex hashes.
type AuditProof struct {
	Record     *AuditRecord     `json:"record"`
	Proof      []string         `json:"proof"`
	Checkpoint *AuditCheckpoint `json:"checkpoint"`
}

// AuditConsistency proves that the tree of size From is a prefix of the
// checkpoint's tree: Proof holds the RFC 6962 consistency proof.
type AuditConsistency struct {
	From       int64            `json:"from"`
	Proof      []string         `json:"proof"`
	Checkpoint *AuditCheckpoint `json:"checkpoint"`
}

// AuditFilter selects audit records. Records come in chain order (oldest
// first) unless Descending is set; the two Seq bounds work in either order,
// so a newest-first reader pages back with BeforeSeq set to the smallest
// Seq it has seen, and new records never shift its pages.
type AuditFilter struct {
	AfterSeq    int64 // records with Seq > AfterSeq
	BeforeSeq   int64 // records with Seq < BeforeSeq; 0: no bound
	EventName   string
	PrincipalID string
	Since       *time.Time // inclusive bound on the event time
	Until       *time.Time // inclusive bound on the event time
	Descending  bool       // newest (highest Seq) first
	Limit       int        // default 100, at most 1000
}

// AuditVerification is the result of checking the audit log.
//
// Records counts the records read. Verified of them are covered by a signed
// checkpoint whose root they reproduce; the rest are the tail (TailRecords,
// the oldest written at TailSince), after the last checkpoint, which is
// vouched for only by the tail key's tags (on the server) or not at all (in a
// file). OK means no problem was found: a tail is not a problem, but it is
// not "verified" either, and a reader should say so.
type AuditVerification struct {
	OK          bool       `json:"ok"`
	Records     int64      `json:"records"`
	FirstSeq    int64      `json:"firstSeq,omitempty"` // the first record read, when not 1 (a file that starts mid-log)
	Verified    int64      `json:"verified"`
	Checkpoints int        `json:"checkpoints"`
	TreeSize    int64      `json:"treeSize,omitempty"` // the last verified checkpoint
	Root        string     `json:"root,omitempty"`
	TailRecords int64      `json:"tailRecords,omitempty"`
	TailSince   *time.Time `json:"tailSince,omitempty"`
	TailTagged  bool       `json:"tailTagged,omitempty"` // the tail's tags were checked (server side)
	// LegacyUnverified is the range of records carried from the pre-tree
	// hash chain that no signed checkpoint of that chain covered: they are
	// in the tree since the upgrade, but nothing vouches for them before it.
	LegacyUnverified *SeqRange `json:"legacyUnverified,omitempty"`
	FirstBadSeq      int64     `json:"firstBadSeq,omitempty"` // 0 when OK
	Reason           string    `json:"reason,omitempty"`
}

// SeqRange is a range of record numbers, both ends included.
type SeqRange struct {
	First int64 `json:"first"`
	Last  int64 `json:"last"`
}

// AuditService reads and verifies the audit log.
type AuditService interface {
	ListAudit(ctx context.Context, f AuditFilter) ([]*AuditRecord, error)
	ListCheckpoints(ctx context.Context, afterSize int64, limit int) ([]*AuditCheckpoint, error)
	VerifyAudit(ctx context.Context) (*AuditVerification, error)
	// ProveRecord proves record seq is in the tree of the checkpoint at
	// size (0: the latest checkpoint).
	ProveRecord(ctx context.Context, seq, size int64) (*AuditProof, error)
	// ProveConsistency proves the tree of size from is a prefix of the tree
	// of the checkpoint at size to (0: the latest checkpoint).
	ProveConsistency(ctx context.Context, from, to int64) (*AuditConsistency, error)
	// PublicKey returns the checkpoint signing key as a signed-note
	// verifier key ("<name>+<hash>+<key>").
	PublicKey(ctx context.Context) (string, error)
}
