// Command pulumi-resource-keyward is keyward's Pulumi resource provider: the
// engine starts it as a plugin (name "keyward"). Build it into a folder that
// a Pulumi project names in `plugins: providers: [{name: keyward, path: …}]`:
//
//	go build -o bin/pulumi-resource-keyward .
//
// It talks to a keyward admin API: config keyward:endpoint and keyward:token
// (secret), else $KEYWARD_ADDR and $KEYWARD_TOKEN (or $KEYWARD_TOKEN_FILE).
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/keyward/keyward/cmd/pulumi-resource-keyward/provider"
)

func main() {
	prov, err := provider.New()
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-keyward: %v\n", err)
		os.Exit(1)
	}
	if err := prov.Run(context.Background(), provider.Name, provider.Version); err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-keyward: %v\n", err)
		os.Exit(1)
	}
}
