package postgres

import (
	"reflect"
	"testing"

	"github.com/keyward/keyward"
)

// Changes queued while a notice was on its way go out merged by kind; a
// change naming nothing of its kind (reload everything) absorbs the rest.
func TestMergeChanges(t *testing.T) {
	got := merge([]keyward.Change{
		{Kind: keyward.ChangeKey, ID: "key_a"},
		{Kind: keyward.ChangePlan, ID: "plan_1"},
		{Kind: keyward.ChangeKey, IDs: []string{"key_b", "key_c"}},
		{Kind: keyward.ChangeAccess},
		{Kind: keyward.ChangeAccess, ID: "prn_x"},
		{Kind: keyward.ChangeKey, ID: "key_d"},
	})
	want := []keyward.Change{
		{Kind: keyward.ChangeKey, IDs: []string{"key_a", "key_b", "key_c", "key_d"}},
		{Kind: keyward.ChangePlan, ID: "plan_1"},
		{Kind: keyward.ChangeAccess},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("merge = %+v, want %+v", got, want)
	}
	one := []keyward.Change{{Kind: keyward.ChangeKey, ID: "key_a"}}
	if got := merge(one); !reflect.DeepEqual(got, one) {
		t.Fatalf("merge of one = %+v", got)
	}
}
