#!/usr/bin/env bash
# Builds tether-template-helper into $1 (default ../.tools/bin) against the Sprig release pinned in
# ../tools.env. Templates must evaluate as Argo CD's ApplicationSet controller evaluates them, so
# the Sprig version is a pinned tool version like kustomize's: go.mod must require exactly
# SPRIG_VERSION (a bump in one place without the other fails here, loudly).
set -euo pipefail
cd "$(dirname "$0")"
. ../tools.env
OUT=$(realpath -m "${1:-../.tools/bin}")
mkdir -p "$OUT"

HAVE=$(awk '$1 == "github.com/Masterminds/sprig/v3" {print $2}' go.mod)
if [ "$HAVE" != "$SPRIG_VERSION" ]; then
  echo "templatehelper/go.mod requires github.com/Masterminds/sprig/v3 $HAVE but tools.env pins $SPRIG_VERSION" >&2
  echo "fix: cd templatehelper && go get github.com/Masterminds/sprig/v3@$SPRIG_VERSION && go mod tidy" >&2
  exit 1
fi

export CGO_ENABLED=0
go build -trimpath -ldflags "-s -w" -o "$OUT/tether-template-helper" .
