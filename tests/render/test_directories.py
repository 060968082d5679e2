"""Plain directory sources: file selection, order, formats, and invalid content."""

from __future__ import annotations

import pytest

from tests.render.conftest import CONTEXT, Repos
from tether import render
from tether.model.app import DirectorySource, Source, SourceType

URL = "https://git.example.com/apps.git"


def _names(result: render.RenderResult) -> list[str]:
    return [b["metadata"].get("name") or b["metadata"]["generateName"] for b in result.manifests]


async def _render(repos: Repos, directory: DirectorySource | None = None) -> render.RenderResult:
    snapshot = repos.snapshot(repos.copy("plain"))
    return await render.render(snapshot, Source(URL, "apps/web", directory=directory), CONTEXT)


async def test_top_level_files_in_walk_order(repos: Repos) -> None:
    result = await _render(repos)
    assert result.source_type is SourceType.DIRECTORY
    # config.json, deployment.yaml, list.yaml (2 items), multi.yaml (2 non-empty documents)
    assert _names(result) == ["web-json", "web", "web-a", "web-b", "web", "web"]
    assert [b["kind"] for b in result.manifests][-2:] == ["ServiceAccount", "Service"]


async def test_bodies_are_returned_as_written(repos: Repos) -> None:
    result = await _render(repos)
    deployment = next(b for b in result.manifests if b["kind"] == "Deployment")
    assert "namespace" not in deployment["metadata"]  # the engine adds namespaces, not renders
    assert deployment["metadata"]["annotations"] == {"released": "2024-05-01"}
    config = next(b for b in result.manifests if b["metadata"].get("name") == "web-json")
    assert config["data"] == {"path": "a/b"}


async def test_recurse_walks_subdirectories_depth_first(repos: Repos) -> None:
    result = await _render(repos, DirectorySource(recurse=True))
    assert _names(result) == [
        "web-json", "web", "debug", "web-a", "web-b", "web", "web", "web-nested", "web-migrate-"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("include", "exclude", "expected"),
    [
        ("{config.json,deployment.yaml}", "", ["web-json", "web"]),
        ("*.yml", "", ["web-nested"]),
        ("", "{extra/*,nested/*,*.json}", ["web", "web-a", "web-b", "web", "web"]),
        ("nested/*", "*.yml", ["web-migrate-"]),  # exclude is applied first
    ],
    ids=["alternatives", "crosses-directories", "exclude", "exclude-wins"],
)
async def test_include_and_exclude_globs(
    repos: Repos, include: str, exclude: str, expected: list[str]
) -> None:
    result = await _render(repos, DirectorySource(recurse=True, include=include, exclude=exclude))
    assert _names(result) == expected


async def _render_files(repos: Repos, files: dict[str, str], **limits: int) -> render.RenderResult:
    root = repos.base / "repo"
    for name, text in files.items():
        (root / "app" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "app" / name).write_text(text)
    snapshot = repos.snapshot(root)
    return await render.render(
        snapshot, Source(URL, "app"), CONTEXT, limits=render.RenderLimits(**limits)
    )


async def test_invalid_manifest_names_file_and_document(repos: Repos) -> None:
    files = {"ok.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n"}
    files["bad.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok2}\n---\nfoo: bar\n"
    with pytest.raises(render.InvalidManifest) as caught:
        await _render_files(repos, files)
    assert str(caught.value) == (
        "app/bad.yaml: document 2 is not a Kubernetes object: missing apiVersion, kind, metadata"
    )


async def test_jsonnet_is_refused_rather_than_skipped(repos: Repos) -> None:
    with pytest.raises(render.InvalidSource, match=r"guestbook.jsonnet: Jsonnet is not supported"):
        await _render_files(repos, {"guestbook.jsonnet": "{}"})


async def test_bytes_read_from_a_directory_are_bounded(repos: Repos) -> None:
    big = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata: {x: '" + "x" * 5000 + "'}\n"
    )
    with pytest.raises(render.OutputTooLarge, match=r"app/big.yaml: .* more than 4096 bytes"):
        await _render_files(repos, {"big.yaml": big}, max_output_bytes=4096)


async def test_documents_are_bounded_across_files(repos: Repos) -> None:
    one = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
    with pytest.raises(render.TooComplex, match="more than 2 documents"):
        await _render_files(repos, {"a.yaml": one, "b.yaml": one, "c.yaml": one}, max_documents=2)


async def test_an_empty_directory_renders_nothing(repos: Repos) -> None:
    result = await _render_files(repos, {"notes.txt": "nothing to see"})
    assert result.manifests == ()


async def test_missing_source_path_is_not_found(repos: Repos) -> None:
    snapshot = repos.snapshot(repos.copy("plain"))
    with pytest.raises(render.NotFound, match=r"source path 'apps/nope' is not a directory"):
        await render.render(snapshot, Source(URL, "apps/nope"), CONTEXT)


async def test_generate_name_outside_a_hook_names_file_and_document(repos: Repos) -> None:
    job = "apiVersion: batch/v1\nkind: Job\nmetadata: {generateName: migrate-}\n"
    files = {"jobs.yaml": job.replace("generateName: migrate-", "name: ok") + "---\n" + job}
    with pytest.raises(render.InvalidManifest) as caught:
        await _render_files(repos, files)
    assert str(caught.value) == (
        "app/jobs.yaml: document 2 (kind Job) sets generateName but no name; "
        "only hooks (tether.dev/hook) may"
    )
