"""Where tools are found: the tool's own variable, then TETHER_TOOLS_BIN (else the checkout's
.tools/bin), then PATH; a missing tool is one line naming where tether looked and the fix.
Every case builds its own directories of small executable scripts and its own environment."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tether import toolpaths
from tether.devcluster import tools as devtools
from tether.render import ToolMissing, helper, templates
from tether.render import tools as render_tools
from tether.secrets import sops

PLACES = ("explicit", "tools-bin", "checkout", "path")


def _script(directory: Path, name: str, *, mode: int = 0o755) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / name
    script.write_text(f"#!/bin/sh\necho {directory.name}\n")
    script.chmod(mode)
    return script


def _checkout(root: Path) -> Path:
    """A directory that looks like a tether source tree."""
    (root / "controlplane").mkdir(parents=True, exist_ok=True)
    (root / "tools.env").write_text("KUSTOMIZE_VERSION=v0\n")
    return root


def _place(tmp_path: Path, place: str) -> Path:
    if place == "checkout":
        return tmp_path / "checkout" / ".tools" / "bin"
    return tmp_path / place


def _environment(tmp_path: Path, present: set[str], configured: set[str]) -> dict[str, str]:
    """Kustomize installed in `present` places; `configured` ones named in the environment."""
    for place in present:
        _script(_place(tmp_path, place), "kustomize")
    env = {"TETHER_REPO": str(_checkout(tmp_path / "checkout"))}
    if "explicit" in configured:
        env["TETHER_KUSTOMIZE"] = str(_place(tmp_path, "explicit") / "kustomize")
    if "tools-bin" in configured:
        env["TETHER_TOOLS_BIN"] = str(_place(tmp_path, "tools-bin"))
    env["PATH"] = str(_place(tmp_path, "path")) if "path" in configured else "/nonexistent"
    return env


SEARCH_ORDER = [
    pytest.param(set(PLACES), set(PLACES), "explicit", id="the-variable-wins"),
    pytest.param(
        {"tools-bin", "checkout", "path"}, {"tools-bin", "path"}, "tools-bin", id="tools-bin-next"
    ),
    pytest.param({"checkout", "path"}, {"path"}, "checkout", id="checkout-without-tools-bin"),
    pytest.param({"checkout", "path"}, {"tools-bin", "path"}, "path", id="tools-bin-replaces"),
    pytest.param({"path"}, {"path"}, "path", id="path-last"),
]


@pytest.mark.parametrize(("present", "configured", "winner"), SEARCH_ORDER)
def test_search_order(tmp_path: Path, present: set[str], configured: set[str], winner: str) -> None:
    where = toolpaths.locations(_environment(tmp_path, present, configured))
    found = toolpaths.find(toolpaths.KUSTOMIZE, where)
    assert found == _place(tmp_path, winner) / "kustomize"
    ran = subprocess.run([found], capture_output=True, text=True, check=True)
    assert ran.stdout.strip() == found.parent.name


def test_a_wrong_explicit_path_is_an_error_not_a_fallback(tmp_path: Path) -> None:
    env = _environment(tmp_path, {"tools-bin", "path"}, {"tools-bin", "path"})
    env["TETHER_HELM"] = str(tmp_path / "nowhere" / "helm")
    with pytest.raises(toolpaths.ToolNotFound) as caught:
        toolpaths.find(toolpaths.HELM, toolpaths.locations(env))
    assert str(caught.value).startswith(
        f"TETHER_HELM={tmp_path}/nowhere/helm is not an executable file; point it at helm, or unset"
    )


def test_files_that_are_not_executable_are_skipped(tmp_path: Path) -> None:
    env = _environment(tmp_path, {"path"}, {"tools-bin", "path"})
    _script(_place(tmp_path, "tools-bin"), "kustomize", mode=0o644)
    found = toolpaths.find(toolpaths.KUSTOMIZE, toolpaths.locations(env))
    assert found == _place(tmp_path, "path") / "kustomize"


def test_relative_path_entries_are_never_searched() -> None:
    where = toolpaths.locations({"PATH": "bin:/usr/bin::.", "TETHER_REPO": "/x"})
    assert where.path == (Path("/usr/bin"),)


@pytest.mark.parametrize("program", [toolpaths.RENDER_HELPER, toolpaths.TEMPLATE_HELPER])
def test_the_helpers_are_never_taken_from_path(tmp_path: Path, program: toolpaths.Program) -> None:
    _script(tmp_path / "path", program.executable)
    env = _environment(tmp_path, set(), {"tools-bin", "path"})
    assert toolpaths.locate(program, toolpaths.locations(env)) is None


def test_a_switch_word_is_not_a_path() -> None:
    where = toolpaths.locations({"TETHER_RENDER_HELPER": "0", "TETHER_KUSTOMIZE": " "})
    assert where.explicit == {}


def test_missing_in_a_checkout_names_where_it_looked_and_how_to_build(tmp_path: Path) -> None:
    env = _environment(tmp_path, set(), {"path"})
    with pytest.raises(toolpaths.ToolNotFound) as caught:
        toolpaths.find(toolpaths.SOPS, toolpaths.locations(env))
    assert str(caught.value) == (
        f"sops not found in the checkout's .tools/bin ({tmp_path}/checkout/.tools/bin) or on"
        " PATH; set TETHER_SOPS to its path, or build it with `tether dev build --tool sops`"
    )


def test_missing_in_an_installation_says_how_to_point_at_it() -> None:
    installed = toolpaths.ToolLocations(path=(Path("/nonexistent"),))
    with pytest.raises(toolpaths.ToolNotFound) as caught:
        toolpaths.find(toolpaths.KUSTOMIZE, installed)
    message = str(caught.value)
    assert message == (
        "kustomize not found on PATH; set TETHER_KUSTOMIZE to its path, or install it on PATH"
    )
    assert "\n" not in message


def test_tether_finds_its_own_checkout() -> None:
    root = toolpaths.checkout({})
    assert root is not None and toolpaths.is_checkout(root)
    assert Path(toolpaths.__file__).resolve().is_relative_to(root)


def test_the_dev_cluster_builds_where_the_search_looks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TETHER_TOOLS_BIN", str(tmp_path / "bin"))
    assert devtools.tools_bin() == tmp_path / "bin"
    monkeypatch.delenv("TETHER_TOOLS_BIN")
    assert devtools.tools_bin() == devtools.repo_root() / ".tools" / "bin"


def test_render_and_sops_use_the_configured_tools(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TETHER_TOOLS_BIN", str(tmp_path / "empty"))
    monkeypatch.setenv("PATH", "/nonexistent")
    for program in (
        toolpaths.HELM,
        toolpaths.SOPS,
        toolpaths.RENDER_HELPER,
        toolpaths.TEMPLATE_HELPER,
    ):
        monkeypatch.setenv(program.variable, str(_script(tmp_path / "own", program.executable)))
    assert render_tools.executable("helm") == str(tmp_path / "own" / "helm")
    assert sops._sops_binary() == str(tmp_path / "own" / "sops")
    assert helper._executable() == str(tmp_path / "own" / "tether-render-helper")
    assert templates.locate() == str(tmp_path / "own" / "tether-template-helper")
    with pytest.raises(ToolMissing, match=r"^kustomize not found in TETHER_TOOLS_BIN"):
        render_tools.executable("kustomize")


def test_a_wrong_helper_path_fails_renders_loudly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TETHER_RENDER_HELPER", str(tmp_path / "missing-helper"))
    with pytest.raises(ToolMissing, match=r"TETHER_RENDER_HELPER=.* is not an executable file"):
        helper.shared()


def test_a_missing_template_helper_says_how_to_build_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TETHER_TOOLS_BIN", str(tmp_path / "empty"))
    monkeypatch.setenv("PATH", str(tmp_path / "path"))
    _script(tmp_path / "path", toolpaths.TEMPLATE_HELPER.executable)  # never taken from PATH
    with pytest.raises(ToolMissing, match=r"tether dev build --tool template-helper"):
        templates.shared()


def test_a_missing_sops_is_a_secret_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TETHER_TOOLS_BIN", str(tmp_path / "empty"))
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(sops.SecretError, match=r"^sops not found in TETHER_TOOLS_BIN \("):
        sops._sops_binary()
