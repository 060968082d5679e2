"""Every way a path can leave its snapshot is refused with PathEscape naming the path.

Symlinks are created on disk in each test's copy; `escaping_links` entries stand for links the
snapshot recorded but did not materialize. `outside` holds a Secret an escape would leak.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.render.conftest import CONTEXT, Repos
from tether import render
from tether.model.app import DirectorySource, HelmSource, KustomizeSource, Source

URL = "https://git.example.com/apps.git"


async def _refused(snapshot: object, source: Source, **kwargs: object) -> render.PathEscape:
    with pytest.raises(render.PathEscape) as caught:
        await render.render(snapshot, source, CONTEXT, **kwargs)  # type: ignore[arg-type]
    assert "hunter2" not in str(caught.value)
    return caught.value


# --- source paths ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("..", "source path '..' leaves the repository"),
        ("apps/../../..", "source path 'apps/../../..' leaves the repository"),
        ("/etc", "source path '/etc' is absolute; paths are relative to the repo"),
        ("C:\\Windows", "source path 'C:\\\\Windows' is absolute; paths are relative to the repo"),
    ],
)
async def test_source_path_escapes(repos: Repos, path: str, message: str) -> None:
    snapshot = repos.snapshot(repos.copy("plain"))
    error = await _refused(snapshot, Source(URL, path))
    assert str(error) == message
    assert error.path == path


async def test_source_path_through_a_directory_symlink(repos: Repos, outside: Path) -> None:
    root = repos.copy("plain")
    (root / "apps" / "leak").symlink_to(outside)
    error = await _refused(repos.snapshot(root), Source(URL, "apps/leak"))
    assert (
        str(error) == "source path 'apps/leak' leaves the repository through the symlink apps/leak"
    )


async def test_source_path_through_a_recorded_escaping_link(repos: Repos) -> None:
    snapshot = repos.snapshot(repos.copy("plain"), escaping=frozenset({"apps/linked"}))
    error = await _refused(snapshot, Source(URL, "apps/linked/sub"))
    assert str(error) == (
        "source path 'apps/linked/sub' goes through apps/linked, a symlink that leaves the repo"
    )


# --- files inside the application directory ----------------------------------------------


@pytest.mark.parametrize("recurse", [False, True])
async def test_direct_file_symlink(repos: Repos, outside: Path, recurse: bool) -> None:
    root = repos.copy("plain")
    (root / "apps/web/stolen.yaml").symlink_to(outside / "secret.yaml")
    source = Source(URL, "apps/web", directory=DirectorySource(recurse=recurse))
    error = await _refused(repos.snapshot(root), source)
    assert str(error) == "apps/web/stolen.yaml is a symlink that leaves the repository"


async def test_chained_symlinks(repos: Repos, outside: Path) -> None:
    root = repos.copy("plain")
    (root / "apps/other/hop.yaml").symlink_to(outside / "secret.yaml")
    (root / "apps/web/chain.yaml").symlink_to("../other/hop.yaml")  # in the repo, then out
    error = await _refused(repos.snapshot(root), Source(URL, "apps/web"))
    assert error.path == "apps/web/chain.yaml"


async def test_directory_symlink_inside_a_recursed_directory(repos: Repos, outside: Path) -> None:
    root = repos.copy("plain")
    (root / "apps/web/nested/vendor").symlink_to(outside)
    source = Source(URL, "apps/web", directory=DirectorySource(recurse=True))
    error = await _refused(repos.snapshot(root), source)
    assert error.path == "apps/web/nested/vendor"


async def test_recorded_escaping_link_inside_the_directory(repos: Repos) -> None:
    snapshot = repos.snapshot(repos.copy("plain"), escaping=frozenset({"apps/web/creds.yaml"}))
    error = await _refused(snapshot, Source(URL, "apps/web"))
    assert str(error) == "apps/web/creds.yaml is a symlink that leaves the repository"


async def test_in_repository_symlinks_are_followed(repos: Repos) -> None:
    root = repos.copy("plain")
    (root / "apps/web/shared.yaml").symlink_to("../other/unrelated.yaml")
    result = await render.render(repos.snapshot(root), Source(URL, "apps/web"), CONTEXT)
    assert "unrelated" in [b["metadata"].get("name") for b in result.manifests]


# --- Helm ----------------------------------------------------------------------------------


LEAVES = "leaves the repository"
ABSOLUTE = "is absolute; paths are relative to the repo"


@pytest.mark.parametrize(
    ("value_file", "reason"),
    [
        ("../../../../etc/passwd", LEAVES),
        ("/etc/passwd", ABSOLUTE),
        ("../../evil.yaml", f"{LEAVES} through the symlink evil.yaml"),
        ("../../linked/values.yaml", "goes through linked, a symlink that leaves the repo"),
    ],
    ids=["dotdot", "absolute", "symlink", "recorded-link"],
)
async def test_helm_value_file_escapes(
    repos: Repos, outside: Path, value_file: str, reason: str
) -> None:
    root = repos.copy("helm")
    (root / "evil.yaml").symlink_to(outside / "secret.yaml")  # outside the scanned chart
    snapshot = repos.snapshot(root, escaping=frozenset({"linked"}))
    source = Source(URL, "charts/web", helm=HelmSource(value_files=(value_file,)))
    error = await _refused(snapshot, source)
    assert str(error) == f"value file {value_file!r} {reason}"


async def test_helm_ref_value_file_escape(repos: Repos) -> None:
    chart = repos.snapshot(repos.copy("helm"))
    values = repos.snapshot(repos.copy("values-repo"), url="https://git.example.com/values.git")
    source = Source(URL, "charts/web", helm=HelmSource(value_files=("$values/../helm/x.yaml",)))
    error = await _refused(chart, source, refs={"values": values})
    assert (
        str(error)
        == "value file '$values/../helm/x.yaml': path '../helm/x.yaml' leaves the repository"
    )


async def test_helm_chart_holding_an_escaping_symlink(repos: Repos, outside: Path) -> None:
    root = repos.copy("helm")
    (root / "charts/web/files").mkdir()
    (root / "charts/web/files/token").symlink_to(outside / "secret.yaml")  # .Files.Get bait
    error = await _refused(repos.snapshot(root), Source(URL, "charts/web"))
    assert str(error) == "charts/web/files/token is a symlink that leaves the repository"


# --- Kustomize -----------------------------------------------------------------------------


def _kustomization(root: Path, app: str, text: str) -> None:
    (root / app).mkdir(parents=True, exist_ok=True)
    (root / app / "kustomization.yaml").write_text(text)


@pytest.mark.parametrize(
    ("text", "field", "ref", "reason"),
    [
        ("resources: [../../../secret.yaml]", "resources", "../../../secret.yaml", LEAVES),
        ("resources: [/etc/passwd]", "resources", "/etc/passwd", ABSOLUTE),
        ("patches: [{path: ../../x.yaml}]", "patches", "../../x.yaml", LEAVES),
        (
            "configMapGenerator: [{files: [k=../../../k]}]",
            "configMapGenerator",
            "../../../k",
            LEAVES,
        ),
        ("secretGenerator: [{envs: [../../.env]}]", "secretGenerator", "../../.env", LEAVES),
        ("components: [../../c]", "components", "../../c", LEAVES),
    ],
    ids=["resource", "absolute", "patch", "configmap-file", "secret-env", "component"],
)
async def test_kustomization_reference_escapes(
    repos: Repos, text: str, field: str, ref: str, reason: str
) -> None:
    root = repos.base / "repo"
    _kustomization(root, "app", text)
    error = await _refused(repos.snapshot(root), Source(URL, "app"))
    assert str(error) == f"app/kustomization.yaml {field} {ref!r} {reason}"


async def test_kustomize_resource_through_a_symlink(repos: Repos, outside: Path) -> None:
    root = repos.base / "repo"
    _kustomization(root, "app", "resources: [stolen.yaml]")
    (root / "app/stolen.yaml").symlink_to(outside / "secret.yaml")
    error = await _refused(repos.snapshot(root), Source(URL, "app"))
    assert error.path == "stolen.yaml"
    assert "symlink app/stolen.yaml" in str(error)


async def test_kustomize_base_holding_an_escaping_symlink(repos: Repos, outside: Path) -> None:
    root = repos.copy("kustomize")
    (root / "apps/guestbook/base/extra").symlink_to(outside)  # not referenced, still refused
    source = Source(URL, "apps/guestbook/overlays/dev")
    error = await _refused(repos.snapshot(root), source)
    assert str(error) == "apps/guestbook/base/extra is a symlink that leaves the repository"


async def test_kustomize_base_through_a_recorded_escaping_link(repos: Repos) -> None:
    root = repos.base / "repo"
    _kustomization(root, "app", "resources: [../vendored/base]")
    snapshot = repos.snapshot(root, escaping=frozenset({"vendored"}))
    error = await _refused(snapshot, Source(URL, "app"))
    assert "goes through vendored, a symlink" in str(error)


async def test_spec_patch_path_escape(repos: Repos) -> None:
    root = repos.copy("kustomize")
    spec = KustomizeSource(patches=({"path": "../../../../../etc/passwd"},))
    error = await _refused(
        repos.snapshot(root), Source(URL, "apps/guestbook/overlays/dev", kustomize=spec)
    )
    assert str(error) == (
        "the Application's kustomize.patches '../../../../../etc/passwd' leaves the repository"
    )
