#!/usr/bin/env bash
# Builds the local control plane into $1 (default ../.tools/bin): tether-apiserver (embedded etcd +
# the official kube-apiserver) and the official kube-controller-manager and kube-scheduler, all at
# the Kubernetes release pinned in ../tools.env. Go's build cache makes warm rebuilds take seconds.
set -euo pipefail
cd "$(dirname "$0")"
. ../tools.env
OUT=$(realpath -m "${1:-../.tools/bin}")
mkdir -p "$OUT"
V=${KUBERNETES_VERSION#v}
MINOR=$(echo "$V" | cut -d. -f2)
PKG=k8s.io/component-base/version
LDFLAGS="-s -w -X $PKG.gitVersion=v$V -X $PKG.gitMajor=1 -X $PKG.gitMinor=$MINOR -X $PKG.gitTreeState=clean -X $PKG.buildDate=1970-01-01T00:00:00Z"
export CGO_ENABLED=0
go build -trimpath -ldflags "$LDFLAGS" -o "$OUT/" \
  ./cmd/tether-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler
echo "v$V" > "$OUT/.controlplane-version"
