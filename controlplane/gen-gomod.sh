#!/usr/bin/env bash
# Regenerates go.mod/go.sum for the control-plane wrapper at the Kubernetes release in ../tools.env.
# Why: k8s.io/kubernetes requires its staging modules at v0.0.0 and points them at ./staging, which
# only works inside its own tree; a module that depends on it needs one replace per staging module,
# pinned to the matching v0.X.Y tag. The list comes from the release's own go.mod, never typed by hand.
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=../tools.env
. ../tools.env
V=${KUBERNETES_VERSION#v}
M=0.${V#1.}
rm -f go.mod go.sum
go mod init tether.dev/controlplane >/dev/null
go mod edit -go=1.26.0
GOMOD=$(go mod download -json "k8s.io/kubernetes@v$V" | python3 -c 'import json,sys;print(json.load(sys.stdin)["GoMod"])')
for m in $(awk '$2=="=>" && $3 ~ /^\.\/staging\// {print $1}' "$GOMOD"); do
  go mod edit -replace="$m=$m@v$M"
done
go get "k8s.io/kubernetes@v$V" "go.etcd.io/etcd/server/v3@$(awk '$1=="go.etcd.io/etcd/server/v3"{print $2}' "$GOMOD")"
go get -tool "k8s.io/kubernetes/cmd/kube-controller-manager@v$V"
go get -tool "k8s.io/kubernetes/cmd/kube-scheduler@v$V"
go mod tidy
echo "go.mod regenerated for Kubernetes v$V ($(grep -c '=> k8s.io/' go.mod) staging replaces)"
