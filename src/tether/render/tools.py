"""Where kustomize and helm come from, and the bare environment they run in.

Where the binaries are is configuration, searched by `tether.toolpaths`: `TETHER_KUSTOMIZE` and
`TETHER_HELM`, else the tools directory (`TETHER_TOOLS_BIN`, which is also how tests substitute a
fake tool, or a checkout's pinned builds in `.tools/bin`), else PATH. Tools never inherit tether's
environment: it may hold credentials, and a render needs none. Each run gets a fresh HOME and
Helm's three home directories inside the render's own temporary directory, an empty PATH (so
kustomize cannot shell out to git for a remote base) and proxies pointing at a closed port, so
any network access a tool attempts fails fast instead of fetching what the sandbox checks missed.
"""

from __future__ import annotations

from pathlib import Path

from tether import toolpaths
from tether.render.errors import ToolMissing

_NO_NETWORK = "http://127.0.0.1:9"  # the discard port: connections are refused at once
_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy")


PROGRAMS = {"kustomize": toolpaths.KUSTOMIZE, "helm": toolpaths.HELM}


def executable(name: str) -> str:
    """Absolute path of the `name` binary (kustomize or helm); ToolMissing if there is none."""
    try:
        return str(toolpaths.find(PROGRAMS[name], toolpaths.locations()))
    except toolpaths.ToolNotFound as missing:
        raise ToolMissing(str(missing)) from None


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
