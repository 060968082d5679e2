#!/usr/bin/env bash
# Builds tether-render-helper into $1 (default ../.tools/bin) against the kustomize release pinned
# in ../tools.env. The helper's output must equal that release's `kustomize build`, so before
# building this checks that every module go.mod shares with the release's own go.mod is at the
# release's version (a KUSTOMIZE_VERSION bump without a matching `go get` fails here, loudly).
set -euo pipefail
cd "$(dirname "$0")"
. ../tools.env
OUT=$(realpath -m "${1:-../.tools/bin}")
mkdir -p "$OUT"

RELEASE_MOD=$(go list -m -f '{{.GoMod}}' "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION")
# "path version" for each requirement of the release, then of this module's build list.
awk '$1 ~ /\./ && $2 ~ /^v/ {print $1, $2}' "$RELEASE_MOD" | sort >"$OUT/.render-helper-want"
go list -m -f '{{.Path}} {{.Version}}' all | sort >"$OUT/.render-helper-have"
MISMATCH=$(join "$OUT/.render-helper-want" "$OUT/.render-helper-have" | awk '$2 != $3')
rm -f "$OUT/.render-helper-want" "$OUT/.render-helper-have"
if [ -n "$MISMATCH" ]; then
  echo "renderhelper/go.mod differs from kustomize $KUSTOMIZE_VERSION's go.mod (module, release, ours):" >&2
  echo "$MISMATCH" >&2
  echo "fix: cd renderhelper && go get <module>@<release version> ... && go mod tidy" >&2
  exit 1
fi

# kustomize reads its own version from this variable (the managed-by label quotes it); the
# release binary gets the same value from its module version.
LDFLAGS="-s -w -X sigs.k8s.io/kustomize/api/provenance.version=$KUSTOMIZE_VERSION"
export CGO_ENABLED=0
go build -trimpath -ldflags "$LDFLAGS" -o "$OUT/tether-render-helper" .
