"""Where kustomize and helm come from, and the bare environment they run in.

The binaries are the project's pinned builds in `.tools/bin` (`TETHER_TOOLS_BIN` overrides, which
is also how tests substitute a fake tool), falling back to PATH. Tools never inherit tether's
environment: it may hold credentials, and a render needs none. Each run gets a fresh HOME and
Helm's three home directories inside the render's own temporary directory, an empty PATH (so
kustomize cannot shell out to git for a remote base) and proxies pointing at a closed port, so
any network access a tool attempts fails fast instead of fetching what the sandbox checks missed.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tether.devcluster import tools as pinned
from tether.devcluster.errors import DevClusterError
from tether.render.errors import ToolMissing

_NO_NETWORK = "http://127.0.0.1:9"  # the discard port: connections are refused at once
_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy")


def executable(name: str) -> str:
    """Absolute path of the pinned `name` binary, else the one on PATH; ToolMissing if none."""
    try:
        candidate: Path | None = pinned.binary(name)
    except DevClusterError:  # not run from a checkout and no TETHER_TOOLS_BIN
        candidate = None
    if candidate is not None and os.access(candidate, os.X_OK) and candidate.is_file():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise ToolMissing(
            f"{name} is neither in .tools/bin nor on PATH; "
            f"build it with `tether dev build --tool {name}`"
        )
    return found


def environment(workdir: Path) -> dict[str, str]:
    """The complete environment of a tool run whose scratch space is `workdir`."""
    homes = {
        "HOME": workdir / "home",
        "XDG_CONFIG_HOME": workdir / "home" / ".config",
        "XDG_CACHE_HOME": workdir / "home" / ".cache",
        "XDG_DATA_HOME": workdir / "home" / ".local" / "share",
        "HELM_CACHE_HOME": workdir / "helm" / "cache",
        "HELM_CONFIG_HOME": workdir / "helm" / "config",
        "HELM_DATA_HOME": workdir / "helm" / "data",
        "KUSTOMIZE_PLUGIN_HOME": workdir / "kustomize-plugins",
    }
    for directory in homes.values():
        directory.mkdir(parents=True, exist_ok=True)
    env = {name: str(directory) for name, directory in homes.items()}
    env.update(dict.fromkeys(_PROXY_VARIABLES, _NO_NETWORK))
    env.update(PATH=str(workdir / "no-bin"), NO_PROXY="", no_proxy="", LANG="C.UTF-8")
    return env
