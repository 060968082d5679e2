"""Kustomize sources through the real kustomize binary: overlays, spec overrides, refusals."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.render.conftest import CONTEXT, Repos, digest
from tether import render
from tether.devcluster import tools
from tether.model.app import KustomizeSource, Source, SourceType
from tether.render import kustomize, yamls

URL = "https://git.example.com/apps.git"
OVERLAYS = "apps/guestbook/overlays"


def _by_kind(result: render.RenderResult) -> dict[str, dict[str, Any]]:
    return {b["kind"]: b for b in result.manifests}


def _image(deployment: dict[str, Any]) -> str:
    return str(deployment["spec"]["template"]["spec"]["containers"][0]["image"])


BASE_KINDS = ["ConfigMap", "Service", "Deployment"]


@pytest.mark.parametrize(
    ("env", "replicas", "image", "kinds"),
    [
        ("dev", 1, "ghcr.io/example/guestbook:1.1.0-rc.1", BASE_KINDS),
        ("staging", 2, "ghcr.io/example/guestbook:1.0.1", BASE_KINDS),
        ("prod", 5, "registry.example.com/guestbook:1.0.0", ["ConfigMap", *BASE_KINDS]),
    ],
)
async def test_three_environment_overlays(
    repos: Repos, env: str, replicas: int, image: str, kinds: list[str]
) -> None:
    snapshot = repos.snapshot(repos.copy("kustomize"))
    result = await render.render(snapshot, Source(URL, f"{OVERLAYS}/{env}"), CONTEXT)
    assert result.source_type is SourceType.KUSTOMIZE
    assert [b["kind"] for b in result.manifests] == kinds
    deployment = _by_kind(result)["Deployment"]
    assert deployment["metadata"]["name"] == f"{env}-guestbook"
    assert deployment["spec"]["replicas"] == replicas
    assert _image(deployment) == image
    assert "namespace" not in deployment["metadata"]


async def test_staging_patch_file_applies(repos: Repos) -> None:
    snapshot = repos.snapshot(repos.copy("kustomize"))
    result = await render.render(snapshot, Source(URL, f"{OVERLAYS}/staging"), CONTEXT)
    container = _by_kind(result)["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"] == {"limits": {"memory": "256Mi"}}


OVERRIDES = {
    "images-retag": KustomizeSource(images=("ghcr.io/example/guestbook:9.9.9",)),
    "images-rename": KustomizeSource(images=("ghcr.io/example/guestbook=mirror.local/gb:2.0",)),
    "images-digest": KustomizeSource(images=("ghcr.io/example/guestbook@sha256:" + "a" * 64,)),
    "prefix-suffix": KustomizeSource(name_prefix="x-", name_suffix="-v2"),
    "labels": KustomizeSource(common_labels={"team": "payments", "env": "dev"}),
    "annotations": KustomizeSource(common_annotations={"owner": "payments@example.com"}),
    "namespace": KustomizeSource(namespace="guestbook-dev"),
    "yaml-1.1-booleans": KustomizeSource(namespace="n", common_labels={"on": "yes", "y": "off"}),
    "patches": KustomizeSource(
        patches=(
            {
                "target": {"kind": "Deployment", "name": "guestbook"},
                "patch": "- op: replace\n  path: /spec/replicas\n  value: 7",
            },
        )
    ),
}


@pytest.mark.parametrize("name", OVERRIDES)
async def test_spec_overrides_equal_an_in_place_kustomize_edit(repos: Repos, name: str) -> None:
    spec = OVERRIDES[name]
    pristine = repos.copy("kustomize", "pristine")
    snapshot = repos.snapshot(repos.copy("kustomize"))
    before = digest(snapshot.root)
    result = await render.render(snapshot, Source(URL, f"{OVERLAYS}/dev", kustomize=spec), CONTEXT)
    assert digest(snapshot.root) == before  # the snapshot was not modified
    assert list(result.manifests) == _edited_in_place(pristine / OVERLAYS / "dev", spec)


async def test_overrides_replace_rather_than_compose(repos: Repos) -> None:
    # The dev overlay already sets namePrefix "dev-" and an image tag: Argo CD's in-place edit
    # replaces both, which a wrapping kustomization would not (x-dev-guestbook).
    spec = KustomizeSource(name_prefix="x-", images=("ghcr.io/example/guestbook:*",))
    snapshot = repos.snapshot(repos.copy("kustomize"))
    result = await render.render(snapshot, Source(URL, f"{OVERLAYS}/dev", kustomize=spec), CONTEXT)
    deployment = _by_kind(result)["Deployment"]
    assert deployment["metadata"]["name"] == "x-guestbook"
    assert _image(deployment) == "ghcr.io/example/guestbook:1.1.0-rc.1"  # '*' kept the tag


def _edited_in_place(app: Path, spec: KustomizeSource) -> list[dict[str, Any]]:
    """What Argo CD does: `kustomize edit` the app's kustomization, then build."""
    kustomize = str(tools.binary("kustomize"))

    def edit(*args: str) -> None:
        subprocess.run([kustomize, "edit", *args], cwd=app, check=True, capture_output=True)

    if spec.images:
        edit("set", "image", *spec.images)
    if spec.name_prefix:
        edit("set", "nameprefix", "--", spec.name_prefix)
    if spec.name_suffix:
        edit("set", "namesuffix", "--", spec.name_suffix)
    for key, value in spec.common_labels.items():
        edit("add", "label", "--force", f"{key}:{value}")
    for key, value in spec.common_annotations.items():
        edit("add", "annotation", "--force", f"{key}:{value}")
    if spec.namespace:
        edit("set", "namespace", spec.namespace)
    if spec.patches:
        document = yamls.load_data(
            (app / "kustomization.yaml").read_text(), render.RenderLimits(), "k"
        )
        document["patches"] = [*document.get("patches", []), *map(dict, spec.patches)]
        (app / "kustomization.yaml").write_text(json.dumps(document))
    built = subprocess.run([kustomize, "build", str(app)], check=True, capture_output=True)
    return yamls.load_output(built.stdout, render.RenderLimits(), "reference")


async def test_remote_resources_are_refused(repos: Repos) -> None:
    root = repos.base / "repo"
    (root / "app").mkdir(parents=True)
    (root / "app/kustomization.yaml").write_text(
        "resources:\n- https://github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v5.0.0\n"
    )
    with pytest.raises(
        render.RemoteReference,
        match=r"app/kustomization.yaml resources: 'https://github.com/.*' is remote",
    ):
        await render.render(repos.snapshot(root), Source(URL, "app"), CONTEXT)


async def test_remote_bases_without_a_scheme_are_refused(repos: Repos) -> None:
    root = repos.base / "repo"
    (root / "app").mkdir(parents=True)
    (root / "app/kustomization.yaml").write_text("resources: [github.com/org/repo//base]\n")
    with pytest.raises(render.RemoteReference, match="looks like a remote base"):
        await render.render(repos.snapshot(root), Source(URL, "app"), CONTEXT)


async def test_helm_charts_in_kustomize_are_refused(repos: Repos) -> None:
    root = repos.base / "repo"
    (root / "app").mkdir(parents=True)
    (root / "app/kustomization.yaml").write_text("helmCharts:\n- name: redis\n  repo: https://x\n")
    with pytest.raises(
        render.InvalidSource, match=r"app/kustomization.yaml: `helmCharts` is not supported"
    ):
        await render.render(repos.snapshot(root), Source(URL, "app"), CONTEXT)


async def test_missing_resource_is_not_found(repos: Repos) -> None:
    root = repos.base / "repo"
    (root / "app").mkdir(parents=True)
    (root / "app/kustomization.yaml").write_text("resources: [gone.yaml, ../base]\n")
    with pytest.raises(render.NotFound, match=r"resources: 'gone.yaml' does not exist"):
        await render.render(repos.snapshot(root), Source(URL, "app"), CONTEXT)


async def test_directory_without_kustomization_is_not_found(repos: Repos) -> None:
    root = repos.base / "repo"
    (root / "app").mkdir(parents=True)
    (root / "base").mkdir()
    (root / "app/kustomization.yaml").write_text("resources: [../base]\n")
    with pytest.raises(
        render.NotFound,
        match=r"^base \(named by app/kustomization.yaml resources entry '../base'\) holds no",
    ):
        await render.render(repos.snapshot(root), Source(URL, "app"), CONTEXT)


async def test_kustomize_failures_show_repository_paths(repos: Repos) -> None:
    root = repos.base / "repo"
    (root / "app").mkdir(parents=True)
    (root / "app/kustomization.yaml").write_text(
        "resources: [cm.yaml]\nnamePrefix: [not, a, string]\n"
    )
    (root / "app/cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    with pytest.raises(render.ToolFailed) as caught:
        await render.render(repos.snapshot(root), Source(URL, "app"), CONTEXT)
    assert str(caught.value).startswith("kustomize build app failed (exit 1): ")
    assert "tether-render-" not in str(caught.value)


async def test_in_repository_symlinked_base_is_followed(repos: Repos) -> None:
    root = repos.copy("kustomize")
    (root / "apps/shared-base").symlink_to("guestbook/base")
    (root / "apps/linked").mkdir()
    (root / "apps/linked/kustomization.yaml").write_text(
        "resources: [../shared-base]\nnamePrefix: linked-\n"
        'patchesStrategicMerge: [\'{"apiVersion": "v1", "kind": "Service",'
        ' "metadata": {"name": "guestbook", "labels": {"inline": "json"}}}\']\n'
    )
    result = await render.render(repos.snapshot(root), Source(URL, "apps/linked"), CONTEXT)
    service = _by_kind(result)["Service"]
    assert service["metadata"] == {"name": "linked-guestbook", "labels": {"inline": "json"}}


@pytest.mark.parametrize(
    ("arg", "entry"),
    [
        ("nginx:1.27", {"name": "nginx", "newTag": "1.27"}),
        ("nginx=r:5000/nginx:1.27", {"name": "nginx", "newName": "r:5000/nginx", "newTag": "1.27"}),
        ("nginx=reg.local/nginx", {"name": "nginx", "newName": "reg.local/nginx"}),
        ("nginx@sha256:abc", {"name": "nginx", "digest": "sha256:abc"}),
        ("nginx=m/nginx@sha256:ab", {"name": "nginx", "newName": "m/nginx", "digest": "sha256:ab"}),
        ("nginx=*:1.28", {"name": "nginx", "newName": "*", "newTag": "1.28"}),
    ],
)  # fmt: skip
def test_image_overrides_parse_like_kustomize_edit(arg: str, entry: dict[str, str]) -> None:
    assert kustomize.parse_image(arg) == entry


def test_image_overrides_replace_entries_by_name_and_sort() -> None:
    existing = [
        {"name": "redis", "newTag": "7"},
        {"name": "nginx", "newName": "reg/nginx", "newTag": "1"},
    ]
    merged = kustomize.set_images(existing, ["nginx=*:2", "alpine:3.20"])
    assert merged == [
        {"name": "alpine", "newTag": "3.20"},
        {"name": "nginx", "newName": "reg/nginx", "newTag": "2"},
        {"name": "redis", "newTag": "7"},
    ]
    with pytest.raises(render.InvalidSource, match="is not one of"):
        kustomize.parse_image("just-a-name")


async def test_a_kustomization_with_a_key_twice_is_refused(repos: Repos) -> None:
    root = repos.base / "repo"
    (root / "app").mkdir(parents=True)
    (root / "app/kustomization.yaml").write_text(
        "resources: [cm.yaml]\nnamePrefix: a-\nresources: [other.yaml]\n"
    )
    with pytest.raises(render.InvalidManifest) as caught:
        await render.render(repos.snapshot(root), Source(URL, "app"), CONTEXT)
    assert str(caught.value) == (
        "app/kustomization.yaml: invalid YAML at line 3, column 1: "
        'mapping key "resources" already defined at line 1'
    )


async def test_kustomize_refuses_a_resource_with_a_key_twice(repos: Repos) -> None:
    root = repos.base / "repo"
    (root / "app").mkdir(parents=True)
    (root / "app/kustomization.yaml").write_text("resources: [secret.yaml]\n")
    (root / "app/secret.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\n"
        "stringData:\n  password: s3cr3t\n  password: hunter2\n"
    )
    with pytest.raises(render.ToolFailed) as caught:
        await render.render(repos.snapshot(root), Source(URL, "app"), CONTEXT)
    assert '"password" already defined' in str(caught.value)
    assert "s3cr3t" not in str(caught.value) and "hunter2" not in str(caught.value)
