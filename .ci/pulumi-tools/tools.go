//go:build tools

// Package tools keeps the Pulumi CLI's module in go.mod.
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
