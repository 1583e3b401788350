#!/usr/bin/env bash
# pulumi.sh - print the directory whose bin/ holds the Pulumi CLI (pulumi)
# and the YAML language host (pulumi-language-yaml) at the pinned versions
# (the layout the Automation API's PulumiCommandOptions.Root expects),
# building them from the Go module proxy the first time.
#
# The binaries live in a folder keyed by both versions, under the
# git-ignored .ci/cache of the clone; that folder is a link to the same one
# under KEYWARD_CI_CACHE (default ~/.cache/keyward-ci), so that a fresh
# clone of the repository reuses what an earlier one built.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
PULUMI_VERSION=v3.274.1
YAML_VERSION=v1.25.0
name="pulumi-$PULUMI_VERSION-yaml-$YAML_VERSION"
shared="${KEYWARD_CI_CACHE:-$HOME/.cache/keyward-ci}/$name"
mkdir -p "$shared/bin" "$repo/.ci/cache"
if [ ! -x "$shared/bin/pulumi" ]; then
  # Without the version stamped in, the Automation API refuses the CLI.
  # No symbol tables or DWARF (-s -w): linking a 170 MB binary with them
  # is a good part of a cold build.
  (cd "$repo/.ci/pulumi-tools" && go build -o "$shared/bin/pulumi.tmp" \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
    github.com/pulumi/pulumi/pkg/v3/cmd/pulumi) >&2
  mv "$shared/bin/pulumi.tmp" "$shared/bin/pulumi"
fi
if [ ! -x "$shared/bin/pulumi-language-yaml" ]; then
  GOBIN="$shared/bin" go install -ldflags "-s -w" "github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml@$YAML_VERSION" >&2
fi
ln -sfn "$shared" "$repo/.ci/cache/$name"
echo "$repo/.ci/cache/$name"
