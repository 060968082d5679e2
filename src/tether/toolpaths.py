"""Where tether finds the programs it runs: kustomize, helm, the render and template helpers, sops.

Tool locations are configuration, not knowledge of how tether was built. An installation puts
its tools wherever it likes and says so; a checkout finds the pinned builds of `tether dev build`
without being told. The search for one tool, first match wins:

1. the tool's own variable (`TETHER_KUSTOMIZE`, `TETHER_HELM`, `TETHER_SOPS`,
   `TETHER_RENDER_HELPER`, `TETHER_TEMPLATE_HELPER`): that file, and nothing else; a wrong path
   is an error, not a reason to keep looking;
2. the tools directory: `TETHER_TOOLS_BIN` when set (the image sets it; tests point it at fake
   tools), else the source checkout's `.tools/bin`, found from this file's own location (or
   `TETHER_REPO`). `TETHER_TOOLS_BIN` replaces the checkout's directory rather than preceding it,
   so a test's fake kustomize is never bypassed by the real render helper next to the real one;
3. PATH (absolute entries only: a tool is never run from the working directory). The render
   helper is never taken from PATH: it speaks a protocol of this tether version and renders fall
   back to `kustomize build` without it, so a stray copy must not be picked up silently. The
   template helper is not taken from PATH either: it too speaks this tether version's protocol.

`locations` reads the environment once into a frozen `ToolLocations`; `find` and `locate` search
it. This module imports nothing from tether, so every layer (and `tether.devcluster`, which
builds into the checkout's directory) may use it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

TOOLS_BIN = "TETHER_TOOLS_BIN"
REPO = "TETHER_REPO"
CHECKOUT_TOOLS = Path(".tools") / "bin"

# A tool variable set to one of these is a switch, not a path (TETHER_RENDER_HELPER=0 turns the
# helper off; render.helper reads that).
_SWITCH_WORDS = frozenset({"0", "1", "false", "true", "no", "yes", "off", "on"})


class ToolNotFound(Exception):
    """A tool is in none of the places it was looked for; the message is one line."""


@dataclass(frozen=True)
class Program:
    """One external program tether runs, and how a user points tether at it."""

    executable: str  # the file name looked for in each directory
    variable: str  # the environment variable holding its explicit path
    build_name: str  # `tether dev build --tool NAME` builds it in a checkout
    on_path: bool = True  # whether PATH is searched


KUSTOMIZE = Program("kustomize", "TETHER_KUSTOMIZE", "kustomize")
HELM = Program("helm", "TETHER_HELM", "helm")
SOPS = Program("sops", "TETHER_SOPS", "sops")
RENDER_HELPER = Program(
    "tether-render-helper", "TETHER_RENDER_HELPER", "render-helper", on_path=False
)
TEMPLATE_HELPER = Program(
    "tether-template-helper", "TETHER_TEMPLATE_HELPER", "template-helper", on_path=False
)
PROGRAMS = (KUSTOMIZE, HELM, SOPS, RENDER_HELPER, TEMPLATE_HELPER)


@dataclass(frozen=True)
class Directory:
    """A directory searched for tools, and why, for the message when a tool is missing."""

    path: Path
    origin: str  # "TETHER_TOOLS_BIN", "the checkout's .tools/bin"


@dataclass(frozen=True, kw_only=True)
class ToolLocations:
    """Where tools are looked for: explicit paths, then the tools directory, then PATH."""

    explicit: Mapping[str, Path] = field(default_factory=dict)  # variable -> path
    tools_dir: Directory | None = None
    path: tuple[Path, ...] = ()
    checkout: Path | None = None  # the source checkout, when tether runs from one


def is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def locate(
    program: Program,
    where: ToolLocations,
    *,
    usable: Callable[[Path], bool] = is_executable,
) -> Path | None:
    """The program's path, or None when the search finds nothing; ToolNotFound when its
    variable names a file that is not executable (configuration that points nowhere is loud)."""
    if (explicit := where.explicit.get(program.variable)) is not None:
        if usable(explicit):
            return explicit
        raise ToolNotFound(
            f"{program.variable}={explicit} is not an executable file; "
            f"point it at {program.executable}, or unset it to search {_searched(program, where)}"
        )
    for directory in _directories(program, where):
        if usable(candidate := directory / program.executable):
            return candidate
    return None


def find(
    program: Program,
    where: ToolLocations,
    *,
    usable: Callable[[Path], bool] = is_executable,
) -> Path:
    """The program's path; ToolNotFound, naming where it looked and how to fix it, if none."""
    found = locate(program, where, usable=usable)
    if found is None:
        raise ToolNotFound(missing_message(program, where))
    return found


def missing_message(program: Program, where: ToolLocations) -> str:
    fixes = [f"set {program.variable} to its path"]
    if where.checkout is not None:
        fixes.append(f"build it with `tether dev build --tool {program.build_name}`")
    elif program.on_path:
        fixes.append("install it on PATH")
    return f"{program.executable} not found {_searched(program, where)}; {', or '.join(fixes)}"


def _searched(program: Program, where: ToolLocations) -> str:
    places = []
    if where.tools_dir is not None:
        places.append(f"in {where.tools_dir.origin} ({where.tools_dir.path})")
    if program.on_path:
        places.append("on PATH")
    return " or ".join(places) if places else "anywhere (no tools directory is configured)"


def _directories(program: Program, where: ToolLocations) -> tuple[Path, ...]:
    pinned = () if where.tools_dir is None else (where.tools_dir.path,)
    return pinned + (where.path if program.on_path else ())


def locations(environ: Mapping[str, str] | None = None) -> ToolLocations:
    """The tool locations configured by `environ` (default: this process's environment)."""
    env = os.environ if environ is None else environ
    root = checkout(env)
    return ToolLocations(
        explicit=_explicit_paths(env),
        tools_dir=tools_directory(env, root),
        path=_path_entries(env.get("PATH", os.defpath)),
        checkout=root,
    )


def tools_directory(environ: Mapping[str, str], root: Path | None) -> Directory | None:
    """TETHER_TOOLS_BIN, else the checkout's .tools/bin, else None (an installed tether)."""
    if configured := environ.get(TOOLS_BIN):
        return Directory(Path(configured).absolute(), TOOLS_BIN)
    if root is not None:
        return Directory(root / CHECKOUT_TOOLS, f"the checkout's {CHECKOUT_TOOLS}")
    return None


def checkout(environ: Mapping[str, str]) -> Path | None:
    """The tether source tree: TETHER_REPO when set, else the one this package lives in."""
    if configured := environ.get(REPO):
        return Path(configured).absolute()
    return _own_checkout()


@cache
def _own_checkout() -> Path | None:
    for parent in Path(__file__).resolve().parents:
        if is_checkout(parent):
            return parent
    return None  # an installed package: site-packages has no tools.env beside it


def is_checkout(directory: Path) -> bool:
    return (directory / "tools.env").is_file() and (directory / "controlplane").is_dir()


def _explicit_paths(environ: Mapping[str, str]) -> dict[str, Path]:
    paths = {}
    for program in PROGRAMS:
        value = environ.get(program.variable, "").strip()
        if value and value.lower() not in _SWITCH_WORDS:
            paths[program.variable] = Path(value).absolute()
    return paths


def _path_entries(value: str) -> tuple[Path, ...]:
    entries = (Path(entry) for entry in value.split(os.pathsep) if entry)
    return tuple(entry for entry in entries if entry.is_absolute())
