"""Pinned external tools, found in the project's `.tools/bin` and built there when missing.

Versions live in one file, `tools.env`, at the repository root. The control plane is built from
`controlplane/` (Kubernetes' own Go modules), the render helper from `renderhelper/` (kustomize's
Go library at the pinned kustomize release), the template helper from `templatehelper/` (Go's
text/template with Sprig at the pinned release, for ApplicationSet templates), Dex (the OIDC
provider of the auth tests) from the wrapper module `oidc/dex/`; kwok, kustomize, helm, sops and
age come from `go install PKG@VERSION`. A stamp file beside each binary records what it was built
from, so a version bump or a change to the wrapper rebuilds exactly what changed, and nothing else.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from tether import toolpaths
from tether.devcluster.errors import DevClusterError

Progress = Callable[[str, int, int], None]
"""Called as progress(step, done, total); total is 0 when unknown."""


@cache
def repo_root() -> Path:
    """The source tree holding tools.env (TETHER_REPO overrides, for installed copies)."""
    root = toolpaths.checkout(os.environ)
    if root is None:
        raise DevClusterError(
            "cannot find the tether source tree (tools.env, controlplane/)",
            "run from a checkout of tether, or set TETHER_REPO to one",
        )
    return root


def tools_bin() -> Path:
    """Where the pinned tools are built: the directory tether's own tool search looks in."""
    directory = toolpaths.tools_directory(os.environ, toolpaths.checkout(os.environ))
    return repo_root() / toolpaths.CHECKOUT_TOOLS if directory is None else directory.path


@cache
def pinned_versions() -> dict[str, str]:
    versions: dict[str, str] = {}
    for line in (repo_root() / "tools.env").read_text().splitlines():
        if m := re.match(r"^([A-Z0-9_]+)=(\S+)$", line.strip()):
            versions[m.group(1)] = m.group(2)
    return versions


@dataclass(frozen=True)
class Tool:
    """One pinned tool: the files it puts in .tools/bin and how to build them."""

    name: str
    outputs: tuple[str, ...]
    version_key: str
    go_packages: tuple[str, ...] = ()  # `go install` targets; empty = a wrapper module here

    @property
    def version(self) -> str:
        return pinned_versions()[self.version_key]


# kwok's default Pod/Node lifecycle stages ship as YAML in its module, not inside the binary; a
# standalone kwok needs them in its config file, so they are extracted next to the binary.
KWOK_STAGES = "kwok-stages.yaml"
KWOK_STAGE_FILES = (
    "node/fast/node-initialize.yaml",
    "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "pod/fast/pod-ready.yaml",
    "pod/fast/pod-complete.yaml",
    "pod/fast/pod-delete.yaml",
)

CONTROLPLANE = Tool(
    "controlplane",
    ("tether-apiserver", "kube-controller-manager", "kube-scheduler"),
    "KUBERNETES_VERSION",
)
KWOK = Tool("kwok", ("kwok", KWOK_STAGES), "KWOK_VERSION", ("sigs.k8s.io/kwok/cmd/kwok",))
KUSTOMIZE = Tool(
    "kustomize", ("kustomize",), "KUSTOMIZE_VERSION", ("sigs.k8s.io/kustomize/kustomize/v5",)
)
# Built from renderhelper/; versioned by the kustomize release whose library it links.
RENDER_HELPER = Tool("render-helper", ("tether-render-helper",), "KUSTOMIZE_VERSION")
# Built from templatehelper/; versioned by the Sprig release whose functions templates call.
TEMPLATE_HELPER = Tool("template-helper", ("tether-template-helper",), "SPRIG_VERSION")
HELM = Tool("helm", ("helm",), "HELM_VERSION", ("helm.sh/helm/v3/cmd/helm",))
SOPS = Tool("sops", ("sops",), "SOPS_VERSION", ("github.com/getsops/sops/v3/cmd/sops",))
AGE = Tool(
    "age",
    ("age", "age-keygen"),
    "AGE_VERSION",
    ("filippo.io/age/cmd/age", "filippo.io/age/cmd/age-keygen"),
)
# Built from oidc/dex/: Dex's go.mod replaces its api/v2 module, so `go install` cannot build it.
DEX = Tool("dex", ("dex",), "DEX_VERSION")
ALL_TOOLS = (CONTROLPLANE, KWOK, KUSTOMIZE, RENDER_HELPER, TEMPLATE_HELPER, HELM, SOPS, AGE, DEX)
CLUSTER_TOOLS = (CONTROLPLANE, KWOK)


def binary(name: str) -> Path:
    return tools_bin() / name


def _stamp_file(tool: Tool) -> Path:
    return tools_bin() / f".{tool.name}.stamp"


def _source_hash(module: str, go_files: str) -> str:
    src = repo_root() / module
    digest = hashlib.sha256()
    for path in sorted([src / "go.mod", src / "go.sum", src / "build.sh", *src.glob(go_files)]):
        digest.update(path.relative_to(src).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def expected_stamp(tool: Tool) -> str:
    if tool is CONTROLPLANE:
        return f"{tool.version} {_source_hash('controlplane', 'cmd/**/*.go')}"
    if tool is RENDER_HELPER:
        return f"{tool.version} {_source_hash('renderhelper', '*.go')}"
    if tool is TEMPLATE_HELPER:
        return f"{tool.version} {_source_hash('templatehelper', '*.go')}"
    if tool is DEX:
        return f"{tool.version} {_source_hash('oidc/dex', '*.go')}"
    return f"{tool.version} {' '.join(tool.go_packages)}"


def is_current(tool: Tool) -> bool:
    stamp = _stamp_file(tool)
    if not stamp.is_file() or not all(binary(b).is_file() for b in tool.outputs):
        return False
    return stamp.read_text().strip() == expected_stamp(tool)


def missing(tools: tuple[Tool, ...]) -> list[Tool]:
    return [t for t in tools if not is_current(t)]


def go_executable() -> str:
    go = shutil.which("go")
    if go is None:
        raise DevClusterError(
            "the Go toolchain (`go`) is not on PATH; it builds the control plane and tools",
            "install Go 1.26 or newer and put it on PATH (export PATH=$PATH:/usr/local/go/bin)",
        )
    return go


def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    env["GOFLAGS"] = (env.get("GOFLAGS", "") + " -v -buildvcs=false").strip()
    env.setdefault("CGO_ENABLED", "0")
    return env


def _count_packages(go: str, workdir: Path, targets: list[str], env: dict[str, str]) -> int:
    """How many packages a build may compile, for an honest progress bar (0 if unknown)."""
    result = subprocess.run(
        [go, "list", "-deps", *targets], cwd=workdir, env=env, capture_output=True, text=True
    )
    return result.stdout.count("\n") if result.returncode == 0 else 0


def _run_build(tool: Tool, argv: list[str], workdir: Path, total: int, progress: Progress) -> None:
    env = _go_env()
    log = tools_bin().parent / "logs" / f"build-{tool.name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    done = 0
    with (
        log.open("w") as out,
        subprocess.Popen(
            argv, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ) as proc,
    ):
        assert proc.stdout is not None
        for line in proc.stdout:
            out.write(line)
            if not line.startswith(("go: ", "#")) and " " not in line.strip():
                done += 1  # `go build -v` prints each package as it compiles it
                progress(f"building {tool.name} {tool.version}", min(done, total), total)
    if proc.returncode != 0:
        last = processes_tail(log)
        raise DevClusterError(
            f"building {tool.name} {tool.version} failed: {last}",
            f"read {log} for the whole output; check the Go module proxy is reachable",
        )


def processes_tail(log: Path) -> str:
    lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    return " | ".join(lines[-3:]) if lines else "no output"


def build(tool: Tool, progress: Progress) -> None:
    go = go_executable()
    bin_dir = tools_bin()
    bin_dir.mkdir(parents=True, exist_ok=True)
    env = _go_env()
    if tool is CONTROLPLANE:
        workdir = repo_root() / "controlplane"
        targets = [
            "./cmd/tether-apiserver",
            "k8s.io/kubernetes/cmd/kube-controller-manager",
            "k8s.io/kubernetes/cmd/kube-scheduler",
        ]
        total = _count_packages(go, workdir, targets, env)
        argv = ["bash", str(workdir / "build.sh"), str(bin_dir)]
    elif tool in (RENDER_HELPER, TEMPLATE_HELPER):
        workdir = repo_root() / ("renderhelper" if tool is RENDER_HELPER else "templatehelper")
        total = _count_packages(go, workdir, ["."], env)
        argv = ["bash", str(workdir / "build.sh"), str(bin_dir)]
    elif tool is DEX:
        workdir = repo_root() / "oidc" / "dex"
        total = _count_packages(go, workdir, ["github.com/dexidp/dex/cmd/dex"], env)
        argv = ["bash", str(workdir / "build.sh"), str(bin_dir)]
    else:
        workdir = bin_dir
        total = 0
        argv = [
            "env",
            f"GOBIN={bin_dir}",
            go,
            "install",
            *(f"{p}@{tool.version}" for p in tool.go_packages),
        ]
    progress(f"building {tool.name} {tool.version}", 0, total)
    _run_build(tool, argv, workdir, total, progress)
    if tool is KWOK:
        _extract_kwok_stages(go, tool.version)
    _stamp_file(tool).write_text(expected_stamp(tool) + "\n")
    progress(f"built {tool.name} {tool.version}", total, total)


def _extract_kwok_stages(go: str, version: str) -> None:
    result = subprocess.run(
        [go, "mod", "download", "-json", f"sigs.k8s.io/kwok@{version}"],
        capture_output=True,
        text=True,
        cwd=tools_bin(),
    )
    if result.returncode != 0:
        raise DevClusterError(
            f"cannot fetch kwok {version}'s stage definitions: {result.stderr.strip()[-300:]}",
            "check the Go module proxy is reachable",
        )
    stage_dir = Path(json.loads(result.stdout)["Dir"]) / "kustomize" / "stage"
    documents = [(stage_dir / f).read_text().strip() for f in KWOK_STAGE_FILES]
    binary(KWOK_STAGES).write_text("\n---\n".join(documents) + "\n")


def ensure(tools: tuple[Tool, ...], progress: Progress) -> list[Tool]:
    """Build every tool that is missing or stale; returns what was built."""
    todo = missing(tools)
    for tool in todo:
        build(tool, progress)
    return todo
