package keyward

import "context"

// MaxImportRows is how many keys one ImportKeys call takes: one
// transaction and one audit record. Larger files go in several calls (the
// CLI sends them so), each all or nothing.
const MaxImportRows = 1000

// KeyImportRow is one key to import, a row of AWS API Gateway's
// ImportApiKeys CSV (Name, Key, Description, Enabled, UsagePlanIds).
type KeyImportRow struct {
	Line        int      `json:"line"` // in the file (the header is line 1), for errors
	Name        string   `json:"name"`
	Value       string   `json:"value"` // the key; never logged, audited or echoed
	Description string   `json:"description,omitempty"`
	Enabled     *bool    `json:"enabled,omitempty"` // nil: true
	PlanIDs     []string `json:"planIds,omitempty"`
}

// KeyImport is the input of ImportKeys: up to MaxImportRows rows, and the
// stages and plans every one of them is bound to besides its own plans.
type KeyImport struct {
	Rows      []KeyImportRow `json:"rows"`
	StageKeys []StageKey     `json:"stageKeys,omitempty"`
	PlanIDs   []string       `json:"planIds,omitempty"`
}

// KeyImportResult lists the IDs of the keys imported, in row order.
type KeyImportResult struct {
	KeyIDs []string `json:"keyIds"`
}

// KeyImporter imports keys whose values were made elsewhere, a batch at a
// time: every row of a batch is written, or none (the error names the line
// of the first bad row). Values are stored as digests like any key's.
type KeyImporter interface {
	ImportKeys(ctx context.Context, in KeyImport) (*KeyImportResult, error)
}
