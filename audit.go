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

// AuditRecord is an event as chained in the store: Hash = SHA-256(PrevHash ‖
// Event), where Event holds the canonical bytes of the event exactly as
// hashed. Hashes are lowercase hex.
type AuditRecord struct {
	Seq      int64           `json:"seq"`
	PrevHash string          `json:"prevHash"`
	Hash     string          `json:"hash"`
	Event    json.RawMessage `json:"event"`
}

// AuditCheckpoint is an Ed25519 signature over the chain head at Seq.
type AuditCheckpoint struct {
	Seq       int64     `json:"seq"`
	Hash      string    `json:"hash"`
	Time      time.Time `json:"time"`
	KeyID     string    `json:"keyId"`     // hex SHA-256 of the public key, first 16 chars
	PublicKey []byte    `json:"publicKey"` // Ed25519 public key
	Signature []byte    `json:"signature"`
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

// AuditVerification is the result of checking the chain.
type AuditVerification struct {
	OK          bool   `json:"ok"`
	Records     int64  `json:"records"`
	Checkpoints int    `json:"checkpoints"`
	FirstBadSeq int64  `json:"firstBadSeq,omitempty"` // 0 when OK
	Reason      string `json:"reason,omitempty"`
}

// AuditService reads and verifies the audit trail.
type AuditService interface {
	ListAudit(ctx context.Context, f AuditFilter) ([]*AuditRecord, error)
	ListCheckpoints(ctx context.Context, afterSeq int64, limit int) ([]*AuditCheckpoint, error)
	VerifyAudit(ctx context.Context) (*AuditVerification, error)
}
