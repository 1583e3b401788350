package core

import (
	"context"
	"fmt"

	"github.com/keyward/keyward"
)

var _ keyward.KeyImporter = (*Keys)(nil)

// ImportKeys writes a batch of keys with values made elsewhere, in one
// transaction with one audit record (apikeys:Create, "import": true, the
// lines and the key IDs; never a value). Each row is a CreateKey with its
// value imported: the same checks, the same apikeys:Import and plan and
// stage permissions per key. A bad row fails the whole batch with its line.
func (s *Keys) ImportKeys(ctx context.Context, in keyward.KeyImport) (*keyward.KeyImportResult, error) {
	params := map[string]any{"import": true, "rows": len(in.Rows), "stageKeys": stageKeyStrings(in.StageKeys), "planIds": in.PlanIDs}
	if len(in.Rows) > 0 {
		params["firstLine"], params["lastLine"] = in.Rows[0].Line, in.Rows[len(in.Rows)-1].Line
	}
	c := call{action: keyward.ActionKeyCreate, resource: keyward.KeyARN("*"), params: params}
	out := &keyward.KeyImportResult{KeyIDs: make([]string, 0, len(in.Rows))}
	err := s.run(ctx, c, func(ctx context.Context, tx keyward.Tx, o *op) error {
		out.KeyIDs = out.KeyIDs[:0] // a retried transaction starts over
		switch {
		case len(in.Rows) == 0:
			return invalid("no rows to import")
		case len(in.Rows) > keyward.MaxImportRows:
			return invalid("at most %d rows per import call", keyward.MaxImportRows)
		case len(in.PlanIDs) > maxListItems:
			return invalid("at most %d plans", maxListItems)
		}
		now := s.clock.Now()
		for _, r := range in.Rows {
			kc := keyward.KeyCreate{Name: r.Name, Description: r.Description, Enabled: r.Enabled, Value: r.Value,
				StageKeys: in.StageKeys, PlanIDs: append(append([]string(nil), in.PlanIDs...), r.PlanIDs...)}
			if r.Value == "" {
				return atLine(r.Line, invalid("the key (value) is empty"))
			}
			if err := validateKeyCreate(kc, now); err != nil {
				return atLine(r.Line, err)
			}
			k, _, err := s.insertKey(ctx, tx, o, kc)
			if err != nil {
				return atLine(r.Line, err)
			}
			out.KeyIDs = append(out.KeyIDs, k.ID)
		}
		o.respond("keyIds", out.KeyIDs)
		o.changed(keyward.Change{Kind: keyward.ChangeKey, IDs: out.KeyIDs})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// atLine prefixes a row's error with its line, keeping its code.
func atLine(line int, err error) error {
	if ke, ok := err.(*keyward.Error); ok {
		return &keyward.Error{Code: ke.Code, Message: fmt.Sprintf("line %d: %s", line, ke.Message)}
	}
	return err
}
