package storetest

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/keyward/keyward"
)

var secretTests = []test{
	{"CRUD", testSecretCRUD},
	{"Versions", testSecretVersions},
	{"List", testSecretList},
	{"DeleteCascades", testSecretDeleteCascades},
}

func testSecretCRUD(h *harness) {
	s := newSecret("db/password")
	h.do(func(ctx context.Context, tx keyward.Tx) error { return tx.InsertSecret(ctx, s) })
	get := func(what string, want *keyward.Secret) {
		h.t.Helper()
		h.read(func(ctx context.Context, tx keyward.Tx) error {
			got, err := tx.GetSecret(ctx, want.Name)
			if err != nil {
				return err
			}
			h.equal(what, got, want)
			return nil
		})
	}
	get("GetSecret", s)
	h.expect(keyward.ECONFLICT, "InsertSecret(taken name)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.InsertSecret(ctx, newSecret("db/password"))
	})
	h.expect(keyward.ENOTFOUND, "GetSecret(missing)", func(ctx context.Context, tx keyward.Tx) error {
		_, err := tx.GetSecret(ctx, "nope")
		return err
	})

	u := *s
	u.Description = "rotated monthly"
	u.Rotation = &keyward.SecretRotation{RotatorID: "wh-other"}
	u.Tags = map[string]string{"env": "dev", "team": "data"}
	u.UpdatedAt = at(time.Hour)
	u.LastAccessedAt = ptr(at(2 * time.Hour).In(paris))
	u.DeletionDate = ptr(at(7 * 24 * time.Hour))
	u.CreatedAt = at(99 * time.Hour) // not mutable: ignored
	h.do(func(ctx context.Context, tx keyward.Tx) error { return tx.UpdateSecret(ctx, &u) })
	want := u
	want.CreatedAt = s.CreatedAt
	get("GetSecret after UpdateSecret", &want)

	u.DeletionDate = nil // restored
	u.Tags = nil
	u.Rotation = nil
	h.do(func(ctx context.Context, tx keyward.Tx) error { return tx.UpdateSecret(ctx, &u) })
	want = u
	want.CreatedAt = s.CreatedAt
	get("GetSecret after restore", &want)

	h.expect(keyward.ENOTFOUND, "UpdateSecret(missing)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.UpdateSecret(ctx, newSecret("nope"))
	})
}

// sorted returns a sorted copy of s, for comparing staging labels, whose
// order the store does not promise.
func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func testSecretVersions(h *harness) {
	const name = "vendor/key"
	v1 := newVersion(name, "v1", t0)
	v2 := newVersion(name, "v2", at(time.Minute))
	v3 := newVersion(name, "v3", at(2*time.Minute))
	v3.Binary = true
	v3.Sealed = []byte{0, 1, 2, 0xff}
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		if err := tx.InsertSecret(ctx, newSecret(name)); err != nil {
			return err
		}
		if err := tx.InsertSecretVersion(ctx, v1); err != nil {
			return err
		}
		return tx.MoveStage(ctx, name, keyward.StageCurrent, "v1")
	})
	// What PutSecretValue does: the new version becomes CURRENT, the old one
	// PREVIOUS.
	put := func(v *keyward.SecretVersion, old string) {
		h.t.Helper()
		h.do(func(ctx context.Context, tx keyward.Tx) error {
			if err := tx.InsertSecretVersion(ctx, v); err != nil {
				return err
			}
			if err := tx.MoveStage(ctx, name, keyward.StagePrevious, old); err != nil {
				return err
			}
			return tx.MoveStage(ctx, name, keyward.StageCurrent, v.ID)
		})
	}
	put(v2, "v1")
	put(v3, "v2")
	h.do(func(ctx context.Context, tx keyward.Tx) error { return tx.MoveStage(ctx, name, "blue", "v3") })

	stages := func() map[string][]string {
		var m map[string][]string
		h.read(func(ctx context.Context, tx keyward.Tx) error {
			s, err := tx.GetSecret(ctx, name)
			if err != nil {
				return err
			}
			m = map[string][]string{}
			for v, st := range s.VersionIDsToStages {
				m[v] = sorted(st)
			}
			return nil
		})
		return m
	}
	h.equal("VersionIDsToStages", stages(), map[string][]string{
		"v2": {keyward.StagePrevious},
		"v3": {keyward.StageCurrent, "blue"},
	})

	h.read(func(ctx context.Context, tx keyward.Tx) error {
		got, err := tx.GetSecretVersionByStage(ctx, name, keyward.StageCurrent)
		if err != nil {
			return err
		}
		got.Stages = sorted(got.Stages)
		want := *v3
		want.Stages = []string{keyward.StageCurrent, "blue"}
		h.equal("GetSecretVersionByStage(CURRENT)", got, &want)

		got, err = tx.GetSecretVersion(ctx, name, "v1")
		if err != nil {
			return err
		}
		h.equal("GetSecretVersion(v1)", got, v1) // no stages left

		all, err := tx.ListSecretVersions(ctx, name)
		if err != nil {
			return err
		}
		var ids []string
		for _, v := range all {
			ids = append(ids, v.ID)
			if v.ID == "v2" {
				h.equal("ListSecretVersions: v2 stages", v.Stages, []string{keyward.StagePrevious})
			}
		}
		h.equal("ListSecretVersions (newest first)", ids, []string{"v3", "v2", "v1"})
		return nil
	})

	h.expect(keyward.ECONFLICT, "InsertSecretVersion(duplicate ID)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.InsertSecretVersion(ctx, newVersion(name, "v2", at(time.Hour)))
	})
	h.fails("InsertSecretVersion(missing secret)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.InsertSecretVersion(ctx, newVersion("nope", "v1", t0))
	})
	h.expect(keyward.ENOTFOUND, "MoveStage(to a missing version)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.MoveStage(ctx, name, keyward.StageCurrent, "nope")
	})
	h.expect(keyward.ENOTFOUND, "GetSecretVersion(missing)", func(ctx context.Context, tx keyward.Tx) error {
		_, err := tx.GetSecretVersion(ctx, name, "nope")
		return err
	})

	// Taking a label off, and moving one back.
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		if err := tx.MoveStage(ctx, name, keyward.StagePrevious, ""); err != nil {
			return err
		}
		return tx.MoveStage(ctx, name, "blue", "v1")
	})
	h.expect(keyward.ENOTFOUND, "GetSecretVersionByStage(label taken off)", func(ctx context.Context, tx keyward.Tx) error {
		_, err := tx.GetSecretVersionByStage(ctx, name, keyward.StagePrevious)
		return err
	})
	h.equal("VersionIDsToStages after moves", stages(), map[string][]string{
		"v1": {"blue"},
		"v3": {keyward.StageCurrent},
	})

	// Whatever the moves, a label is on at most one version.
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		for i := range 10 {
			to := fmt.Sprintf("v%d", i%3+1)
			if err := tx.MoveStage(ctx, name, keyward.StageCurrent, to); err != nil {
				return err
			}
		}
		return nil
	})
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		all, err := tx.ListSecretVersions(ctx, name)
		if err != nil {
			return err
		}
		n := 0
		for _, v := range all {
			if slices.Contains(v.Stages, keyward.StageCurrent) {
				n++
				if v.ID != "v1" {
					h.t.Errorf("CURRENT on %s, want v1", v.ID)
				}
			}
		}
		if n != 1 {
			h.t.Errorf("CURRENT on %d versions, want 1", n)
		}
		return nil
	})
}

func testSecretList(h *harness) {
	secrets := []struct {
		name    string
		tags    map[string]string
		deleted bool
	}{
		{"app/db", map[string]string{"env": "prod", "team": "data"}, false},
		{"app/api", map[string]string{"env": "dev"}, false},
		{"app/old", map[string]string{"env": "prod"}, true},
		{"appx", map[string]string{"team": "prod"}, false},
		{"other", nil, false},
		{"app_y", map[string]string{"env": "qa"}, false},
	}
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		for _, s := range secrets {
			sec := newSecret(s.name)
			sec.Tags = s.tags
			if s.deleted {
				sec.DeletionDate = ptr(at(30 * 24 * time.Hour))
			}
			if err := tx.InsertSecret(ctx, sec); err != nil {
				return err
			}
		}
		return nil
	})
	for _, tc := range []struct {
		f    keyward.SecretFilter
		want []string
	}{
		{keyward.SecretFilter{}, []string{"app/api", "app/db", "app_y", "appx", "other"}},
		{keyward.SecretFilter{IncludeDeleted: true}, []string{"app/api", "app/db", "app/old", "app_y", "appx", "other"}},
		{keyward.SecretFilter{NamePrefix: "app/"}, []string{"app/api", "app/db"}},
		{keyward.SecretFilter{NamePrefix: "app/", IncludeDeleted: true}, []string{"app/api", "app/db", "app/old"}},
		{keyward.SecretFilter{NamePrefix: "app_"}, []string{"app_y"}}, // "_" is not a wildcard
		{keyward.SecretFilter{TagKey: "env"}, []string{"app/api", "app/db", "app_y"}},
		{keyward.SecretFilter{TagKey: "env", TagValue: "prod"}, []string{"app/db"}},
		{keyward.SecretFilter{TagKey: "env", TagValue: "prod", IncludeDeleted: true}, []string{"app/db", "app/old"}},
		{keyward.SecretFilter{TagValue: "prod"}, []string{"app/db", "appx"}},
		{keyward.SecretFilter{TagKey: "env", TagValue: "data"}, nil}, // both must match one tag
		{keyward.SecretFilter{IncludeDeleted: true, Page: keyward.Page{Limit: 2}}, []string{"app/api", "app/db", "app/old", "app_y", "appx", "other"}},
		{keyward.SecretFilter{TagKey: "env", Page: keyward.Page{Limit: 1}}, []string{"app/api", "app/db", "app_y"}},
	} {
		var got []string
		h.read(func(ctx context.Context, tx keyward.Tx) error {
			f := tc.f
			for {
				page, next, err := tx.ListSecrets(ctx, f)
				if err != nil {
					return err
				}
				for _, s := range page {
					got = append(got, s.Name)
					h.equal("ListSecrets: Rotation of "+s.Name, s.Rotation, newSecret(s.Name).Rotation)
				}
				if next == "" {
					return nil
				}
				f.Position = next
			}
		})
		h.equal(fmt.Sprintf("ListSecrets(%+v)", tc.f), got, tc.want)
	}
}

func testSecretDeleteCascades(h *harness) {
	const name = "to/delete"
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		if err := tx.InsertSecret(ctx, newSecret(name)); err != nil {
			return err
		}
		for i, id := range []string{"v1", "v2"} {
			if err := tx.InsertSecretVersion(ctx, newVersion(name, id, at(time.Duration(i)*time.Minute))); err != nil {
				return err
			}
		}
		if err := tx.MoveStage(ctx, name, keyward.StagePrevious, "v1"); err != nil {
			return err
		}
		return tx.MoveStage(ctx, name, keyward.StageCurrent, "v2")
	})
	h.do(func(ctx context.Context, tx keyward.Tx) error { return tx.DeleteSecret(ctx, name) })
	h.expect(keyward.ENOTFOUND, "GetSecret(deleted)", func(ctx context.Context, tx keyward.Tx) error {
		_, err := tx.GetSecret(ctx, name)
		return err
	})
	h.expect(keyward.ENOTFOUND, "DeleteSecret(deleted)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.DeleteSecret(ctx, name)
	})
	h.expect(keyward.ENOTFOUND, "GetSecretVersion(of a deleted secret)", func(ctx context.Context, tx keyward.Tx) error {
		_, err := tx.GetSecretVersion(ctx, name, "v1")
		return err
	})

	// A secret created again under the name starts empty.
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		if err := tx.InsertSecret(ctx, newSecret(name)); err != nil {
			return err
		}
		vs, err := tx.ListSecretVersions(ctx, name)
		if err != nil {
			return err
		}
		h.equal("ListSecretVersions(recreated)", len(vs), 0)
		s, err := tx.GetSecret(ctx, name)
		if err != nil {
			return err
		}
		h.equal("VersionIDsToStages(recreated)", s.VersionIDsToStages, map[string][]string(nil))
		if _, err := tx.GetSecretVersionByStage(ctx, name, keyward.StageCurrent); keyward.ErrorCode(err) != keyward.ENOTFOUND {
			h.t.Errorf("GetSecretVersionByStage(recreated, CURRENT): %v, want not found", err)
		}
		return tx.InsertSecretVersion(ctx, newVersion(name, "v1", t0))
	})
}
