package cli

import (
	"context"
	"testing"

	"github.com/keyward/keyward"
)

// oldServerClient answers ListKeys as a server of the previous release
// does (httpapi's query.check before commit 29f6b70): a query parameter it
// does not know, such as the new "name", is refused with exactly this
// error; namePrefix it knows.
type oldServerClient struct{ *fakeClient }

func (c oldServerClient) ListKeys(ctx context.Context, kf keyward.KeyFilter) ([]*keyward.APIKey, string, error) {
	if kf.Name != "" {
		c.calls = append(c.calls, "ListKeys name=(refused)")
		return nil, "", keyward.Errorf(keyward.EINVALID, "unknown query parameter")
	}
	return c.fakeClient.ListKeys(ctx, kf)
}

// (From an attack review.) `keys get NAME` against a server one release
// older, which refuses the unknown "name" parameter: the CLI asks by
// prefix instead and filters, as the previous CLI did (the first version
// of the filter failed with "invalid: unknown query parameter").
func TestKeysGetByNameAgainstAServerWithoutTheNameFilter(t *testing.T) {
	keys := [][]*keyward.APIKey{{
		{ID: "key_aaaaaaaaaaaaaaaaaaaa", Name: "ci-bot"},
		{ID: "key_bbbbbbbbbbbbbbbbbbbb", Name: "ci-bot-2"},
	}}
	fake := &fakeClient{keyPages: keys}
	var c Client = oldServerClient{fake}
	e := &env{ctx: context.Background()}
	k, err := findKey(e, c, "ci-bot")
	if err != nil {
		t.Fatalf("keys get ci-bot against the previous server: %v (code %s)", err, keyward.ErrorCode(err))
	}
	if k.ID != "key_aaaaaaaaaaaaaaaaaaaa" {
		t.Fatalf("got %s", k.ID)
	}
}
