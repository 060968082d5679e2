"""Helm sources through the real helm binary: values precedence, context facts, refs, CRDs."""

from __future__ import annotations

from typing import Any

import pytest

from tests.render.conftest import CONTEXT, Repos
from tether import render
from tether.model.app import HelmParameter, HelmSource, Source, SourceType
from tether.model.revisions import Snapshot

URL = "https://git.example.com/apps.git"
VALUES_URL = "https://git.example.com/values.git"
CHART = "charts/web"


async def _render(
    repos: Repos,
    helm: HelmSource | None = None,
    context: render.RenderContext = CONTEXT,
    refs: dict[str, Snapshot] | None = None,
) -> render.RenderResult:
    snapshot = repos.snapshot(repos.copy("helm"))
    return await render.render(snapshot, Source(URL, CHART, helm=helm), context, refs=refs or {})


def _kinds(result: render.RenderResult) -> dict[str, dict[str, Any]]:
    return {b["kind"]: b for b in result.manifests}


def _facts(result: render.RenderResult) -> dict[str, str]:
    return dict(_kinds(result)["ConfigMap"]["data"])


async def test_detected_chart_renders_with_defaults(repos: Repos) -> None:
    result = await _render(repos)
    assert result.source_type is SourceType.HELM
    kinds = _kinds(result)
    assert sorted(kinds) == ["ConfigMap", "CustomResourceDefinition", "Deployment", "Service"]
    assert kinds["Deployment"]["metadata"]["name"] == "web-web"  # release = app name
    assert kinds["Deployment"]["spec"]["replicas"] == 1
    image = kinds["Deployment"]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "ghcr.io/example/web:2.4.0"
    assert _facts(result) == {
        "env": "default",
        "greeting": "hello",
        "releaseNamespace": "prod",
        "kubeVersion": "v1.36.3",
        "hasServiceMonitor": "false",
    }
    assert "namespace" not in kinds["Deployment"]["metadata"]  # helm template leaves it out


async def test_value_files_parameters_values_object_and_kube_version(repos: Repos) -> None:
    helm = HelmSource(
        release_name="shop",
        value_files=("values-dev.yaml", "values-prod.yaml"),  # in order: prod wins
        values_object={"greeting": "from valuesObject", "replicaCount": 9, "extra": {"a": 1}},
        parameters=(
            HelmParameter("replicaCount", "6"),  # parameters beat valuesObject
            HelmParameter("podAnnotations.note", "a,b"),  # commas are escaped, not split
            HelmParameter("image.tag", "1.0", force_string=True),
        ),
        kube_version="1.31.0",  # the spec wins over the context
        api_versions=("monitoring.coreos.com/v1/ServiceMonitor",),
    )
    result = await _render(repos, helm)
    kinds = _kinds(result)
    deployment = kinds["Deployment"]
    assert deployment["metadata"]["name"] == "shop-web"
    assert deployment["spec"]["replicas"] == 6
    pod = deployment["spec"]["template"]
    assert pod["metadata"]["annotations"] == {"note": "a,b"}
    assert pod["spec"]["containers"][0]["image"] == "ghcr.io/example/web:1.0"
    assert kinds["Ingress"]["spec"]["rules"][0]["host"] == "web.example.com"  # values-prod.yaml
    assert _facts(result) == {
        "env": "prod",
        "greeting": "from valuesObject",
        "releaseNamespace": "prod",
        "kubeVersion": "v1.31.0",
        "hasServiceMonitor": "true",
        "extra": '{"a":1}',
    }


async def test_values_object_replaces_inline_values(repos: Repos) -> None:
    snapshot = repos.snapshot(repos.copy("helm"))
    inline = "env: from-values\ngreeting: inline\n"
    for helm, greeting in [
        (HelmSource(values=inline, values_object={"env": "obj"}), "hello"),  # values ignored
        (HelmSource(values=inline), "inline"),
    ]:
        result = await render.render(snapshot, Source(URL, CHART, helm=helm), CONTEXT)
        assert _facts(result)["greeting"] == greeting


async def test_context_api_versions_and_namespace(repos: Repos) -> None:
    context = render.RenderContext(
        "web", "staging", "v1.30.2", ("monitoring.coreos.com/v1/ServiceMonitor",)
    )
    facts = _facts(await _render(repos, None, context))
    assert facts["releaseNamespace"] == "staging"
    assert facts["kubeVersion"] == "v1.30.2"
    assert facts["hasServiceMonitor"] == "true"


async def test_skip_crds(repos: Repos) -> None:
    result = await _render(repos, HelmSource(skip_crds=True))
    assert "CustomResourceDefinition" not in _kinds(result)


async def test_values_from_another_repository(repos: Repos) -> None:
    values = repos.snapshot(repos.copy("values-repo"), url=VALUES_URL, sha="2" * 40)
    helm = HelmSource(value_files=("values-dev.yaml", "$values/envs/prod/web.yaml"))
    result = await _render(repos, helm, refs={"values": values})
    assert _kinds(result)["Deployment"]["spec"]["replicas"] == 4
    assert _facts(result)["env"] == "prod-from-values-repo"
    assert _facts(result)["greeting"] == "hello from the values repo"


async def test_unknown_ref_is_not_found(repos: Repos) -> None:
    helm = HelmSource(value_files=("$values/envs/prod/web.yaml",))
    with pytest.raises(
        render.NotFound, match=r"source ref 'values', which no source .* \(known refs: none\)"
    ):
        await _render(repos, helm)


async def test_missing_value_file_is_not_found(repos: Repos) -> None:
    with pytest.raises(render.NotFound) as caught:
        await _render(repos, HelmSource(value_files=("values-qa.yaml",)))
    assert str(caught.value) == (
        f"value file 'values-qa.yaml' does not exist in {URL} at {'1' * 12}"
    )


async def test_remote_value_files_are_refused(repos: Repos) -> None:
    helm = HelmSource(value_files=("https://example.com/values.yaml",))
    with pytest.raises(render.RemoteReference, match="is remote"):
        await _render(repos, helm)


async def test_inline_values_must_be_a_mapping(repos: Repos) -> None:
    with pytest.raises(render.InvalidSource, match=r"helm\.values must be a YAML mapping"):
        await _render(repos, HelmSource(values="- a\n- b\n"))


async def test_unvendored_dependencies_fail_clearly(repos: Repos) -> None:
    snapshot = repos.snapshot(repos.copy("helm-deps"))
    with pytest.raises(render.MissingDependency) as caught:
        await render.render(snapshot, Source(URL, "chart"), CONTEXT)
    assert str(caught.value) == (
        "chart chart depends on charts that are not vendored under charts/ (redis); "
        "renders have no network: run `helm dependency build` and commit charts/"
    )


async def test_template_errors_name_the_chart(repos: Repos) -> None:
    root = repos.copy("helm")
    (root / CHART / "templates/broken.yaml").write_text("{{ .Values.nope.deeper }}\n")
    with pytest.raises(render.ToolFailed) as caught:
        await render.render(repos.snapshot(root), Source(URL, CHART), CONTEXT)
    message = str(caught.value)
    assert message.startswith("helm template charts/web failed (exit 1): ")
    assert "broken.yaml" in message
    assert str(root) not in message


async def test_inline_values_with_a_key_twice_are_refused(repos: Repos) -> None:
    with pytest.raises(render.InvalidManifest) as caught:
        await _render(repos, HelmSource(values="env: dev\ngreeting: hi\nenv: s3cr3t\n"))
    assert str(caught.value) == (
        'helm.values: invalid YAML at line 3, column 1: mapping key "env" already defined at line 1'
    )


async def test_rendered_objects_are_checked_like_files(repos: Repos) -> None:
    root = repos.copy("helm")
    (root / CHART / "templates/job.yaml").write_text(
        "apiVersion: batch/v1\nkind: Job\nmetadata: {generateName: {{ .Release.Name }}-}\n"
    )
    with pytest.raises(render.InvalidManifest) as caught:
        await render.render(repos.snapshot(root), Source(URL, CHART), CONTEXT)
    assert str(caught.value).startswith("helm template charts/web: document ")
    assert str(caught.value).endswith(
        "(kind Job) sets generateName but no name; only hooks (tether.dev/hook) may"
    )
