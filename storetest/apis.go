package storetest

import (
	"context"
	"fmt"
	"time"

	"github.com/keyward/keyward"
)

var apiTests = []test{
	{"CRUD", testAPICRUD},
	{"List", testAPIList},
}

func testAPICRUD(h *harness) {
	a := newAPI("a1", "chat")
	h.do(func(ctx context.Context, tx keyward.Tx) error { return tx.InsertAPI(ctx, a) })
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		got, err := tx.GetAPI(ctx, "a1")
		if err != nil {
			return err
		}
		h.equal("GetAPI", got, a)
		got, err = tx.GetAPIByName(ctx, "chat")
		if err != nil {
			return err
		}
		h.equal("GetAPIByName", got, a)
		return nil
	})
	h.expect(keyward.ECONFLICT, "InsertAPI(duplicate ID)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.InsertAPI(ctx, newAPI("a1", "other"))
	})
	h.expect(keyward.ECONFLICT, "InsertAPI(duplicate name)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.InsertAPI(ctx, newAPI("a2", "chat"))
	})
	h.expect(keyward.ENOTFOUND, "GetAPI(missing)", func(ctx context.Context, tx keyward.Tx) error {
		_, err := tx.GetAPI(ctx, "nope")
		return err
	})
	h.expect(keyward.ENOTFOUND, "GetAPIByName(missing)", func(ctx context.Context, tx keyward.Tx) error {
		_, err := tx.GetAPIByName(ctx, "nope")
		return err
	})

	u := *a
	u.Name = "chat-v2"
	u.Description = ""
	u.OpenAICompatible = false
	u.KeyPrefix = ""
	u.Stages = []keyward.Stage{{Name: "prod", UpstreamURL: "https://llm2.internal/v1"}}
	u.UpdatedAt = at(time.Hour)
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		if err := tx.UpdateAPI(ctx, &u); err != nil {
			return err
		}
		return tx.InsertAPI(ctx, newAPI("a2", "chat")) // the old name is free again
	})
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		got, err := tx.GetAPIByName(ctx, "chat-v2")
		if err != nil {
			return err
		}
		h.equal("GetAPIByName after UpdateAPI", got, &u)
		return nil
	})
	taken := u
	taken.Name = "chat"
	h.expect(keyward.ECONFLICT, "UpdateAPI(taken name)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.UpdateAPI(ctx, &taken)
	})
	h.expect(keyward.ENOTFOUND, "UpdateAPI(missing)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.UpdateAPI(ctx, newAPI("nope", "nope"))
	})
	h.do(func(ctx context.Context, tx keyward.Tx) error { return tx.DeleteAPI(ctx, "a1") })
	h.expect(keyward.ENOTFOUND, "DeleteAPI(deleted)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.DeleteAPI(ctx, "a1")
	})
	h.expect(keyward.ENOTFOUND, "GetAPI(deleted)", func(ctx context.Context, tx keyward.Tx) error {
		_, err := tx.GetAPI(ctx, "a1")
		return err
	})
}

func testAPIList(h *harness) {
	names := []string{"m", "b", "z", "a", "k", "c", "y"}
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		for i, name := range names {
			if err := tx.InsertAPI(ctx, newAPI(fmt.Sprintf("id-%d", i), name)); err != nil {
				return err
			}
		}
		return nil
	})
	var got []string
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		p := keyward.Page{Limit: 3}
		for {
			apis, next, err := tx.ListAPIs(ctx, p)
			if err != nil {
				return err
			}
			for _, a := range apis {
				got = append(got, a.Name)
			}
			if next == "" {
				return nil
			}
			p.Position = next
		}
	})
	h.equal("ListAPIs names", got, []string{"a", "b", "c", "k", "m", "y", "z"})
}
