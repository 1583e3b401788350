#!/usr/bin/env bash
# pulumi.sh - print the directory whose bin/ holds the Pulumi CLI (pulumi)
# and the YAML language host (pulumi-language-yaml) at the pinned versions
# (the layout the Automation API's PulumiCommandOptions.Root expects), building
# them from the Go module proxy when that directory does not hold them yet.
# The directory is a cache outside the clone (KEYWARD_CI_CACHE, default
# ~/.cache/keyward-ci), keyed by version: a fresh clone reuses it.
set -euo pipefail
cd "$(dirname "$0")/pulumi-tools"
PULUMI_VERSION=v3.274.1
YAML_VERSION=v1.25.0
dir="${KEYWARD_CI_CACHE:-$HOME/.cache/keyward-ci}/pulumi-$PULUMI_VERSION-yaml-$YAML_VERSION"
mkdir -p "$dir/bin"
if [ ! -x "$dir/bin/pulumi" ]; then
  # Without the version stamped in, the Automation API refuses the CLI.
  go build -o "$dir/bin/pulumi.tmp" \
    -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
    github.com/pulumi/pulumi/pkg/v3/cmd/pulumi >&2
  mv "$dir/bin/pulumi.tmp" "$dir/bin/pulumi"
fi
if [ ! -x "$dir/bin/pulumi-language-yaml" ]; then
  GOBIN="$dir/bin" go install "github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml@$YAML_VERSION" >&2
fi
echo "$dir"
