"""Safe, bounded YAML/JSON loading: the data-driven cases in testdata/render/invalid, plus
the shapes that must load (multi-document streams, Lists, dates, merges, JSON)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.render.conftest import TESTDATA
from tether import render
from tether.render import yamls

LIMITS = render.RenderLimits()
INVALID = sorted((TESTDATA / "invalid").glob("*.yaml"))


def _expectation(path: Path) -> tuple[str, str]:
    first = path.read_text().splitlines()[0]
    kind, _, message = first.removeprefix("# expect: ").partition(": ")
    return kind, message


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_documents_fail_with_a_clear_message(path: Path) -> None:
    kind, message = _expectation(path)
    started = time.perf_counter()
    with pytest.raises(render.RenderError) as caught:
        yamls.load_all(path.read_text(), LIMITS, path.name)
    assert type(caught.value).__name__ == kind
    assert str(caught.value) == message
    assert time.perf_counter() - started < 2.0  # bombs are refused, not expanded


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_error_messages_never_quote_document_values(path: Path) -> None:
    with pytest.raises(render.RenderError) as caught:
        yamls.load_all(path.read_text(), LIMITS, path.name)
    for secret in ("correct-horse-battery-staple", "s3cr3t", "hunter2", "pwned"):
        assert secret not in str(caught.value)


def test_streams_skip_empty_documents_and_unwrap_lists() -> None:
    text = """
---
# comment only
---
apiVersion: v1
kind: List
items:
  - {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}
  - {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}
---
apiVersion: v1
kind: ConfigMapList
items: null
---
apiVersion: batch/v1
kind: Job
metadata: {generateName: migrate-, annotations: {tether.dev/hook: PreSync}}
"""
    bodies = yamls.load_all(text, LIMITS, "stream")
    assert [(b["kind"], b["metadata"]) for b in bodies] == [
        ("ConfigMap", {"name": "a"}),
        ("ConfigMap", {"name": "b"}),
        ("Job", {"generateName": "migrate-", "annotations": {"tether.dev/hook": "PreSync"}}),
    ]


HEAD = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: m}\n"


@pytest.mark.parametrize(
    ("text", "data"),
    [
        (
            "base: &base {LEVEL: info, MODE: fast}\ndata:\n  <<: *base\n  MODE: slow\n",
            {"LEVEL": "info", "MODE": "slow"},
        ),
        ("base: &base {MODE: fast}\ndata:\n  MODE: slow\n  <<: *base\n", {"MODE": "slow"}),
        (
            "a: &a {MODE: a, A: a}\nb: &b {MODE: b, B: b}\ndata: {<<: [*a, *b]}\n",
            {"MODE": "a", "A": "a", "B": "b"},
        ),
        (
            "a: &a {k: a}\nnested:\n  b: &b\n    <<: *a\n    k: b\ndata: {<<: *b}\n",
            {"k": "b"},
        ),
        ("a: &a {k: a}\ndata: {<<: [*a, *a, *a], j: j}\n", {"k": "a", "j": "j"}),
    ],
    ids=[
        "explicit-overrides-merged",
        "explicit-wins-wherever-written",
        "first-listed-merge-wins",
        "merged-mapping-keeps-its-own-override",
        "same-mapping-merged-twice",
    ],
)
def test_merge_keys_follow_yaml_1_1(text: str, data: dict[str, str]) -> None:
    (body,) = yamls.load_all(HEAD + text, LIMITS, "merge.yaml")
    assert body["data"] == data


def test_a_merge_bomb_stays_small() -> None:
    levels = ["l0: &l0 {k: v}"]
    levels += [f"l{n}: &l{n} {{<<: [{', '.join([f'*l{n - 1}'] * 9)}]}}" for n in range(1, 10)]
    started = time.perf_counter()
    (body,) = yamls.load_all(HEAD + "\n".join(levels) + "\n", LIMITS, "merges.yaml")
    assert body["l9"] == {"k": "v"}
    assert time.perf_counter() - started < 2.0


@pytest.mark.parametrize(
    ("text", "metadata"),
    [
        (
            "kind: Job\nmetadata: {generateName: m-, annotations: {tether.dev/hook: PostSync}}\n",
            {"generateName": "m-", "annotations": {"tether.dev/hook": "PostSync"}},
        ),
        (
            "kind: Job\n"
            "metadata: {name: '', generateName: m-, annotations: {tether.dev/hook: Sync}}\n",
            {"name": "", "generateName": "m-", "annotations": {"tether.dev/hook": "Sync"}},
        ),
        (
            "kind: ConfigMap\n"
            "metadata: {name: c, namespace: null, annotations: null, labels: {}}\n",
            {"name": "c", "namespace": None, "annotations": None, "labels": {}},
        ),
        ("kind: AccessList\nmetadata: {name: admins}\nspec: {}\n", {"name": "admins"}),
    ],
    ids=[
        "hook-with-generate-name",
        "empty-name-hook",
        "empty-metadata-fields",
        "kind-ending-in-list",
    ],
)
def test_objects_tether_accepts(text: str, metadata: dict[str, object]) -> None:
    (body,) = yamls.load_all("apiVersion: v1\n" + text, LIMITS, "ok.yaml")
    assert body["metadata"] == metadata


def _error(load: Callable[[], object]) -> str:
    with pytest.raises(render.InvalidManifest) as caught:
        load()
    return str(caught.value)


def test_duplicate_keys_are_refused_on_every_path() -> None:
    twice = "a: 1\nb: {c: 2}\na: s3cr3t\n"
    assert _error(lambda: yamls.load_data(twice, LIMITS, "values.yaml")) == (
        'values.yaml: invalid YAML at line 3, column 1: mapping key "a" already defined at line 1'
    )
    stream = f"{HEAD}---\n{twice}".encode()  # lines count from the start of the stream
    assert _error(lambda: yamls.load_output(stream, LIMITS, "helm template")) == (
        'helm template: invalid YAML at line 7, column 1: mapping key "a" already defined at line 5'
    )
    one = '{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}, '
    text = one + '"data": {"k": "czNjcjN0", "k": "aHVudGVyMg=="}}'
    assert _error(lambda: yamls.load_json(text, LIMITS, "s.json")) == (
        's.json: invalid JSON: key "k" is defined twice in one object'
    )


def test_keys_too_long_to_be_names_are_not_shown() -> None:
    key = "s3cr3t" * 20
    with pytest.raises(render.InvalidManifest) as caught:
        yamls.load_data(f"{key}: 1\n{key}: 2\n", LIMITS, "values.yaml")
    assert str(caught.value) == (
        "values.yaml: invalid YAML at line 2, column 1: mapping key (not shown) already defined "
        "at line 1"
    )


def test_values_keep_their_json_meaning() -> None:
    text = """
apiVersion: v1
kind: ConfigMap
metadata:
  name: types
  annotations: {released: 2024-05-01, at: 2024-05-01T10:00:00Z}
data: {true: yes, 2: two, ~: none}
"""
    (body,) = yamls.load_all(text, LIMITS, "types")
    assert body["metadata"]["annotations"] == {
        "released": "2024-05-01",
        "at": "2024-05-01T10:00:00Z",
    }
    assert body["data"] == {"true": True, "2": "two", "null": "none"}


def test_aliases_are_expanded_into_independent_copies() -> None:
    text = """
apiVersion: v1
kind: ConfigMap
metadata: {name: shared, labels: &labels {app: web}}
data: {labels: *labels}
"""
    (body,) = yamls.load_all(text, LIMITS, "aliases")
    assert body["data"]["labels"] == body["metadata"]["labels"]
    assert body["data"]["labels"] is not body["metadata"]["labels"]


def test_node_limit_counts_every_alias_reference() -> None:
    text = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: &a [1, 2, 3], b: [*a, *a]}"
    )
    small = render.RenderLimits(max_nodes=10)
    with pytest.raises(render.TooComplex, match="more than 10 nodes"):
        yamls.load_all(text, small, "count")
    assert yamls.load_all(text, render.RenderLimits(max_nodes=20), "count")
    # Nodes are counted per document: a long, honest stream is not refused.
    assert (
        len(yamls.load_all(f"{text}\n---\n{text}", render.RenderLimits(max_nodes=20), "two")) == 2
    )


def test_document_count_is_bounded() -> None:
    text = "".join(
        f"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}}}\n" for i in range(6)
    )
    with pytest.raises(render.TooComplex, match="more than 5 documents"):
        yamls.load_all(text, render.RenderLimits(max_documents=5), "many")


def test_json_files_hold_one_object_a_list_or_an_array() -> None:
    one = '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x\\/y"}}'
    assert yamls.load_json(one, LIMITS, "one.json")[0]["metadata"]["name"] == "x/y"
    array = f"[{one}, {one}]"
    assert len(yamls.load_json(array, LIMITS, "array.json")) == 2
    with pytest.raises(render.InvalidManifest, match=r"bad.json: invalid JSON at line 1, column 2"):
        yamls.load_json("{oops}", LIMITS, "bad.json")
    deep = '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "d"}, "x": '
    with pytest.raises(render.TooComplex):
        yamls.load_json(deep + "[" * 100_000 + "]" * 100_000 + "}", LIMITS, "deep.json")


def test_load_data_bounds_plain_yaml_too() -> None:
    assert yamls.load_data("a: {b: [1, 2]}", LIMITS, "values") == {"a": {"b": [1, 2]}}
    with pytest.raises(render.TooComplex):
        yamls.load_data("a: &a [*a]", LIMITS, "values")
