package provider

import (
	"cmp"
	"context"
	"fmt"
	"strings"

	"github.com/keyward/keyward/httpapi"
)

// apiRefs finds how the program named an API (by ID or by name) that the
// server reports by ID, so Read keeps the program's spelling.
type apiRefs struct {
	ctx context.Context
	c   *httpapi.Client
	ids map[string]string // reference -> API ID, "" when it names no API
}

func newAPIRefs(ctx context.Context, c *httpapi.Client) *apiRefs {
	return &apiRefs{ctx: ctx, c: c, ids: map[string]string{}}
}

func (a *apiRefs) resolve(ref string) (string, error) {
	if strings.HasPrefix(ref, "api_") { // names never look like IDs
		return ref, nil
	}
	if id, ok := a.ids[ref]; ok {
		return id, nil
	}
	api, err := a.c.GetAPI(a.ctx, ref)
	switch {
	case notFound(err):
		a.ids[ref] = ""
	case err != nil:
		return "", fmt.Errorf("reading API %s: %w", ref, err)
	default:
		a.ids[ref] = api.ID
	}
	return a.ids[ref], nil
}

// ref returns the reference the program used for API id in its (reference,
// stage) pairs old: the one paired with stage, else any naming id, else id.
func (a *apiRefs) ref(id, stage string, old [][2]string) (string, error) {
	found := ""
	for _, o := range old {
		rid, err := a.resolve(o[0])
		if err != nil {
			return "", err
		}
		if rid != id {
			continue
		}
		if o[1] == stage {
			return o[0], nil
		}
		if found == "" {
			found = o[0]
		}
	}
	return cmp.Or(found, id), nil
}
