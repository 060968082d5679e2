#!/usr/bin/env bash
# Builds Dex (the OpenID Connect provider the auth tests log in through) into $1 (default
# ../../.tools/bin) at the commit pinned as DEX_VERSION in ../../tools.env.
#
# Why a wrapper module: Dex's own go.mod replaces github.com/dexidp/dex/api/v2 with ./api/v2,
# and `go install pkg@version` refuses modules with replace directives. As a dependency of this
# module the replace is ignored, so api/v2 is required here at the same commit as Dex (its
# pseudo-version ends in the same hash): the server uses api/v2 types newer than the last api/v2
# tag. Dex's tags are v2.x on a v0/v1 module path, so the proxy serves Dex only as a
# pseudo-version.
set -euo pipefail
cd "$(dirname "$0")"
. ../../tools.env
OUT=$(realpath -m "${1:-../../.tools/bin}")
mkdir -p "$OUT"

# Versions are read from go.mod itself: `go list -m` would ask the proxy for .info files, which
# the proxy here refuses for Dex's pseudo-versions (it serves their .mod and .zip).
required() { awk -v m="$1" '$1 == m {print $2}' go.mod; }
HAVE=$(required github.com/dexidp/dex)
if [ "$HAVE" != "$DEX_VERSION" ]; then
  echo "oidc/dex/go.mod requires github.com/dexidp/dex $HAVE but tools.env pins $DEX_VERSION" >&2
  echo "fix: cd oidc/dex && go get -tool github.com/dexidp/dex/cmd/dex@$DEX_VERSION && go mod tidy" >&2
  exit 1
fi
API=$(required github.com/dexidp/dex/api/v2)
if [ "${API##*-}" != "${DEX_VERSION##*-}" ]; then
  echo "oidc/dex/go.mod requires github.com/dexidp/dex/api/v2 $API, not the commit of $DEX_VERSION" >&2
  echo "fix: cd oidc/dex && go get github.com/dexidp/dex/api/v2@${DEX_VERSION##*-} && go mod tidy" >&2
  exit 1
fi

# Memory storage is enough for tests, so no cgo (Dex's sqlite3 storage would need it).
export CGO_ENABLED=0
go build -trimpath -ldflags "-s -w -X main.version=$DEX_VERSION" -o "$OUT/dex" \
  github.com/dexidp/dex/cmd/dex
