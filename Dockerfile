# syntax=docker/dockerfile:1
# tether's image: one `tether` entry point for the controller, the API server and the CLI, with
# the pinned kustomize, helm and render helper it renders with, the template helper that evaluates
# ApplicationSet templates, and the sops it decrypts SOPS manifests with. Build it anywhere with
# Docker or Buildah (see the README, "Installing tether into a cluster"):
#
#   docker build -t ghcr.io/tether-dev/tether:$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml) .
#
# Tool versions come from tools.env, as for `make setup`; the Go stage builds them from source.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG GO_IMAGE=golang:1.26-bookworm
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.8

FROM ${UV_IMAGE} AS uv

# ---- kustomize, helm, the render and template helpers and sops, at the versions in tools.env --
FROM ${GO_IMAGE} AS tools
WORKDIR /src
COPY tools.env ./
COPY renderhelper/ renderhelper/
COPY templatehelper/ templatehelper/
ENV CGO_ENABLED=0 GOBIN=/out GOFLAGS=-trimpath
RUN set -eu; . ./tools.env; \
    go install -ldflags "-s -w" "sigs.k8s.io/kustomize/kustomize/v5@${KUSTOMIZE_VERSION}"; \
    go install -ldflags "-s -w" "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}"; \
    go install -ldflags "-s -w" "github.com/getsops/sops/v3/cmd/sops@${SOPS_VERSION}"; \
    bash renderhelper/build.sh /out; \
    bash templatehelper/build.sh /out

# ---- the Python environment: locked dependencies first (cached), then tether itself ----------
FROM ${PYTHON_IMAGE} AS build
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/tether
WORKDIR /src
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project
COPY README.md ./
COPY src/ src/
RUN uv sync --frozen --no-dev --no-editable

# ---- runtime: no compilers, no uv, a non-root user ------------------------------------------
FROM ${PYTHON_IMAGE}
# git (and ssh for ssh:// repositories) are run as subprocesses by tether's source layer.
RUN apt-get update \
 && apt-get install -y --no-install-recommends git openssh-client ca-certificates tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 tether \
 && useradd --uid 10001 --gid tether --home-dir /home/tether --create-home --shell /usr/sbin/nologin tether
COPY --from=build /opt/tether /opt/tether
COPY --from=tools /out/kustomize /out/helm /out/tether-render-helper /out/tether-template-helper \
     /out/sops /opt/tether/tools/
# TETHER_TOOLS_BIN: the tools directory tether.toolpaths searches (there is no source tree in the
# image); TETHER_KUSTOMIZE, TETHER_HELM, TETHER_SOPS, TETHER_RENDER_HELPER and
# TETHER_TEMPLATE_HELPER override one tool.
ENV PATH=/opt/tether/bin:$PATH \
    TETHER_TOOLS_BIN=/opt/tether/tools \
    XDG_CACHE_HOME=/var/cache/tether \
    XDG_STATE_HOME=/var/lib/tether \
    PYTHONUNBUFFERED=1
RUN install -d -o tether -g tether /var/cache/tether /var/lib/tether
USER 10001:10001
WORKDIR /home/tether
ENTRYPOINT ["/usr/bin/tini", "--", "tether"]
CMD ["--help"]
