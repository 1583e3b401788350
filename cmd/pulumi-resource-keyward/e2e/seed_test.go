package e2e

import (
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

type recorder struct {
	mu  sync.Mutex
	got []pulumi.MockResourceArgs
}

func (r *recorder) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, args)
	return "key_mock", args.Inputs, nil
}

func (r *recorder) Call(pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return resource.PropertyMap{}, nil
}

// TestSeedProgramDeclaresOneDeliveredKey checks the inline program without
// a CLI: one ApiKey, its value delivered to a secret.
func TestSeedProgramDeclaresOneDeliveredKey(t *testing.T) {
	r := &recorder{}
	if err := pulumi.RunErr(SeedProgram, pulumi.WithMocks(ProjectName, "test", r)); err != nil {
		t.Fatal(err)
	}
	if len(r.got) != 1 {
		t.Fatalf("registered %d resources", len(r.got))
	}
	a := r.got[0]
	if a.TypeToken != APIKeyType || a.Name != KeyName {
		t.Errorf("registered %s %s", a.TypeToken, a.Name)
	}
	want := resource.PropertyMap{
		"description":        resource.NewStringProperty(KeyDescription),
		"enabled":            resource.NewBoolProperty(true),
		"storeValueInSecret": resource.NewStringProperty(ValueSecret),
	}
	if !a.Inputs.DeepEquals(want) {
		t.Errorf("inputs %v, want %v", a.Inputs, want)
	}
}
