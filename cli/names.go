package cli

import (
	"context"
	"strings"

	"github.com/keyward/keyward"
)

// Tables and fields show another object's ID with its name beside it,
// "key_abc (prod-app)", so that people need not look each one up. Where the
// name is at hand (an audit event carries its caller's name) labelled joins
// the two; otherwise names finds it. JSON output is never changed: scripts
// get the objects exactly as the server sends them.

// labelled returns "id (name)", or id alone when the name is unknown.
func labelled(id, name string) string {
	if id == "" || name == "" || name == id {
		return id
	}
	return id + " (" + name + ")"
}

// objectKind names the kinds of object whose IDs tables show.
type objectKind int

const (
	kindAPI objectKind = iota
	kindPlan
	kindPrincipal
	kindPolicy
	kindKey
)

// names looks up the names of objects for display. A kind is read only when
// a table is about to show one of its IDs: APIs, plans, principals and
// policies with one list call (their first page of 500, which is all of
// them almost always), a key with one get per key. A lookup that fails (the
// caller may not read that kind) leaves the ID bare: names are a courtesy,
// never a reason for a command to fail. A nil *names shows IDs only.
type names struct {
	ctx    context.Context
	c      Client
	byKind map[objectKind]map[string]string
}

func newNames(ctx context.Context, c Client) *names {
	return &names{ctx: ctx, c: c, byKind: map[objectKind]map[string]string{}}
}

// names returns the name finder of the command's client.
func (e *env) names() *names {
	c, err := e.client()
	if err != nil {
		return nil
	}
	return newNames(e.ctx, c)
}

// label returns the ID with its object's name beside it, when known.
func (n *names) label(kind objectKind, id string) string {
	return labelled(id, n.name(kind, id))
}

// stage returns an API stage as "api_abc/prod (chat/prod)".
func (n *names) stage(apiID, stage string) string {
	name := n.name(kindAPI, apiID)
	if name == "" {
		return apiID + "/" + stage
	}
	return labelled(apiID+"/"+stage, name+"/"+stage)
}

// name returns the name of the object, "" when unknown.
func (n *names) name(kind objectKind, id string) string {
	if n == nil || id == "" {
		return ""
	}
	m, ok := n.byKind[kind]
	if !ok {
		m = map[string]string{}
		n.byKind[kind] = m
		if kind != kindKey {
			n.list(kind, m)
		}
	}
	if name, ok := m[id]; ok || kind != kindKey {
		return name
	}
	m[id] = "" // asked once, whatever the answer
	if k, err := n.c.GetKey(n.ctx, id); err == nil && k != nil {
		m[id] = k.Name
	}
	return m[id]
}

// list fills m with the IDs and names of the first page of a kind.
func (n *names) list(kind objectKind, m map[string]string) {
	page := keyward.Page{Limit: maxPageLimit}
	switch kind {
	case kindAPI:
		apis, _, err := n.c.ListAPIs(n.ctx, page)
		addNames(m, apis, err, func(a *keyward.API) (string, string) { return a.ID, a.Name })
	case kindPlan:
		plans, _, err := n.c.ListPlans(n.ctx, page)
		addNames(m, plans, err, func(p *keyward.UsagePlan) (string, string) { return p.ID, p.Name })
	case kindPrincipal:
		prs, _, err := n.c.ListPrincipals(n.ctx, page)
		addNames(m, prs, err, func(p *keyward.Principal) (string, string) { return p.ID, p.Name })
	case kindPolicy:
		pols, _, err := n.c.ListPolicies(n.ctx, page)
		addNames(m, pols, err, func(p *keyward.Policy) (string, string) { return p.ID, p.Name })
	}
}

// addNames adds the items of a list that succeeded to m.
func addNames[T any](m map[string]string, items []T, err error, idName func(T) (string, string)) {
	if err != nil {
		return
	}
	for _, it := range items {
		id, name := idName(it)
		m[id] = name
	}
}

// joinLabels labels each ID of a list and joins them with sep.
func joinLabels(n *names, kind objectKind, ids []string, sep string) string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = n.label(kind, id)
	}
	return strings.Join(out, sep)
}
