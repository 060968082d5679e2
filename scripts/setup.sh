#!/usr/bin/env bash
# Idempotent set-up on a fresh machine: Debian packages, uv, the Python environment and every
# Go-built tool (control plane, kwok, kustomize, helm, sops, age, the render and template helpers,
# Dex) into .tools/bin.
# Each step is skipped when already done, so a warm run takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
. ./tools.env

DEBIAN_PACKAGES=(git openssh-server chromium)

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

command -v go >/dev/null || { echo "setup: error: Go is not on PATH (fix: install Go 1.26+)" >&2; exit 1; }

UV=.tools/uv/bin/uv
if ! [ -x "$UV" ] || [ "$("$UV" --version | awk '{print $2}')" != "$UV_VERSION" ]; then
  echo "setup: installing uv $UV_VERSION into .tools/uv"
  rm -rf .tools/uv
  python3 -m venv .tools/uv
  .tools/uv/bin/pip install -q "uv==$UV_VERSION"
fi

"$UV" sync --frozen --quiet
"$UV" run --frozen tether dev build --all
