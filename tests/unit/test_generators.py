"""ApplicationSet generation, driven by fixtures in testdata/generators/<case>/.

Each case is `set.yaml` (an ApplicationSet), `inputs.yaml` (the clusters, repository files and
pull requests the caller would pass) and `expected.yaml`: either `applications`, the Applications
in order (`origin`, `metadata`, `spec`), or `error`, the exception type and its exact one-line
message. Templates are evaluated by the real template helper (Go's text/template and Sprig), so
the expectations are what Argo CD's controller would make of the same set.

Below the fixtures: the pure pieces measured against Go where Go is the reference (number
formatting, `normalize`), mergo's merge rules, the two glob dialects, and what a Templater sees.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from tether import generators
from tether.generators import globs, names, params
from tether.generators.templating import Batch, Failure, FailureKind
from tether.render import templates
from tether.render.errors import ToolMissing

TESTDATA = Path(__file__).resolve().parents[2] / "testdata" / "generators"
CASES = sorted(p.name for p in TESTDATA.iterdir() if (p / "set.yaml").is_file())


@pytest.fixture(scope="session")
def templater() -> Iterator[templates.HelperTemplater]:
    try:
        executable = templates.locate()
    except ToolMissing as missing:
        pytest.fail(f"{missing} (scripts/setup.sh and `tether dev build --all` build it)")
    helper = templates.HelperTemplater(executable, size=1)
    yield helper
    helper.close()


def load_inputs(raw: dict[str, Any]) -> generators.Inputs:
    clusters = tuple(generators.Cluster(**c) for c in raw.get("clusters") or ())
    repositories = {
        generators.GitRef(r["repoURL"], r.get("revision", "HEAD")): generators.MemoryTree(
            {path: text.encode() for path, text in (r.get("files") or {}).items()}
        )
        for r in raw.get("repositories") or ()
    }
    pulls = {
        generators.ForgeRepo(f["provider"], f.get("api", ""), f["owner"], f["repo"]): tuple(
            generators.PullRequest(**{_snake(k): _tuple(v) for k, v in p.items()})
            for p in f.get("pulls") or ()
        )
        for f in raw.get("pullRequests") or ()
    }
    return generators.Inputs(clusters=clusters, repositories=repositories, pull_requests=pulls)


def _snake(key: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in key)


def _tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def run_case(case: Path, templater: generators.Templater | None = None) -> dict[str, Any]:
    """What generating the case yields, in expected.yaml's shape."""
    spec = yaml.safe_load((case / "set.yaml").read_text())["spec"]
    inputs = load_inputs(yaml.safe_load((case / "inputs.yaml").read_text()) or {})
    own = templater is None
    helper = templater or templates.HelperTemplater(templates.locate(), size=1)
    try:
        apps = generators.generate(spec, inputs, helper)
    except generators.GeneratorError as e:
        return {"error": {"type": type(e).__name__, "message": str(e)}}
    finally:
        if own:
            assert isinstance(helper, templates.HelperTemplater)
            helper.close()
    return {"applications": [_shown(app) for app in apps]}


def _shown(app: generators.GeneratedApplication) -> dict[str, Any]:
    manifest = app.manifest()
    return {"origin": app.origin, "metadata": manifest["metadata"], "spec": manifest["spec"]}


@pytest.mark.parametrize("case", CASES)
def test_case(case: str, templater: templates.HelperTemplater) -> None:
    expected = yaml.safe_load((TESTDATA / case / "expected.yaml").read_text())
    assert run_case(TESTDATA / case, templater) == expected


def test_every_generator_and_error_kind_has_a_fixture() -> None:
    sets = "\n".join((TESTDATA / c / "set.yaml").read_text() for c in CASES)
    for kind in ("list:", "clusters:", "git:", "pullRequest:", "matrix:", "merge:"):
        assert f"- {kind}" in sets or f"  {kind}" in sets, kind
    errors = {
        yaml.safe_load((TESTDATA / c / "expected.yaml").read_text()).get("error", {}).get("type")
        for c in CASES
    }
    assert {"TemplateFailed", "InvalidSpec", "DuplicateName", "MissingInput"} <= errors


# --- what the generators ask of a Templater ---------------------------------------------------


class Recording:
    """A Templater that answers every job with its template text, recording each batch."""

    def __init__(self) -> None:
        self.batches: list[Batch] = []

    def render(self, batch: Batch) -> Sequence[str] | Failure:
        self.batches.append(batch)
        return [
            batch.templates[t].text.replace("{{ .name }}", batch.params[p]["name"])
            for t, p in batch.jobs
        ]


def _list_spec(names_: list[str], template_name: str = "{{ .name }}") -> dict[str, Any]:
    return {
        "generators": [{"list": {"elements": [{"name": n} for n in names_]}}],
        "template": {
            "metadata": {"name": template_name},
            "spec": {"project": "default", "destination": {"namespace": "plain"}},
        },
    }


def test_one_batch_per_generator_and_plain_strings_stay_home() -> None:
    recording = Recording()
    apps = generators.generate(_list_spec(["a", "b", "c"]), generators.Inputs(), recording)
    assert [a.name for a in apps] == ["a", "b", "c"]
    assert len(recording.batches) == 1
    batch = recording.batches[0]
    assert [t.name for t in batch.templates] == ["metadata.name"]  # "plain" is not sent
    assert batch.jobs == ((0, 0), (0, 1), (0, 2))


def test_no_templates_no_batch() -> None:
    recording = Recording()
    apps = generators.generate(_list_spec(["x"], "fixed"), generators.Inputs(), recording)
    assert [a.name for a in apps] == ["fixed"]
    assert recording.batches == []


class Failing:
    def __init__(self, failure: Failure) -> None:
        self.failure = failure

    def render(self, batch: Batch) -> Sequence[str] | Failure:
        return self.failure


def test_a_templater_failure_names_the_element_and_field_and_masks_values() -> None:
    spec = _list_spec(["alpha", "s3cr3t-token"])
    failure = Failure(1, FailureKind.TIMEOUT, 'took too long near "s3cr3t-token"')
    with pytest.raises(generators.TemplateFailed) as raised:
        generators.generate(spec, generators.Inputs(), Failing(failure))
    assert str(raised.value) == (
        'spec.generators[0].list element 1: metadata.name: took too long near "<value>"'
    )
    assert raised.value.kind == "timeout"


# --- pure pieces ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "go"),
    [  # fmt.Printf("%v", float64(value)), checked with Go 1.26
        (3, "3"),
        (1000000, "1e+06"),
        (100000, "100000"),
        (123456789, "1.23456789e+08"),
        (1.5, "1.5"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (-2.5, "-2.5"),
        (1e21, "1e+21"),
        (123456.7, "123456.7"),
        (0, "0"),
        (True, "true"),
        (None, "<nil>"),
    ],
)
def test_values_print_as_go_prints_decoded_json(value: Any, go: str) -> None:
    assert params.go_format(value) == go


def test_override_follows_mergo() -> None:
    dst = {"a": 1, "m": {"x": 1, "y": 2}, "s": "kept", "l": [1, 2], "e": "", "z": 0}
    src = {"a": "", "m": {"y": 3}, "s": {"k": 1}, "l": [], "e": {"k": 1}, "n": None, "z": {"q": 1}}
    assert params.override(dst, src) == {
        "a": "",  # scalars replace, empty ones too
        "m": {"x": 1, "y": 3},  # maps merge
        "s": "kept",  # a map never replaces a non-empty scalar
        "l": [],  # lists replace
        "e": {"k": 1},  # ... but it fills an empty one
        "n": None,
        "z": {"q": 1},
    }


def test_fill_takes_only_what_is_empty() -> None:
    own = {"metadata": {"name": "", "labels": {"a": "1"}}, "spec": {"prune": False, "p": "x"}}
    base = {
        "metadata": {"name": "n", "labels": {"a": "2", "b": "3"}},
        "spec": {"prune": True, "p": "y"},
    }
    assert params.fill(own, base) == {
        "metadata": {"name": "n", "labels": {"a": "1", "b": "3"}},
        "spec": {"prune": True, "p": "x"},  # false is Go's zero value: filled, as mergo does
    }


def test_flatten_for_selectors() -> None:
    flat = params.flatten({"a": {"b": [1, {"c": True}]}, "n": 2.5, "s": "x"})
    assert flat == {"a.b.0": "1", "a.b.1.c": "true", "n": "2.5", "s": "x"}


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("apps/*", "apps/web", True),
        ("apps/*", "apps/web/overlays", False),  # path.Match: * stops at /
        ("*", "apps", True),
        ("d/[f|g]", "d/g", True),
        ("d/[^f]", "d/f", False),
        ("d/\\*", "d/*", True),
    ],
)
def test_directory_patterns_are_go_path_match(pattern: str, path: str, matches: bool) -> None:
    assert globs.directory_matches(pattern, path) is matches


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("config/*/config.json", "config/a/b/config.json", True),  # git: * crosses /
        ("config", "config/a/config.json", True),  # a literal names a directory
        ("config", "configs/a.json", False),
        ("*.json", "a/b.json", True),
        ("**/x.json", "x.json", False),
        ("c/[!a]*.json", "c/b.json", True),
    ],
)
def test_file_patterns_are_git_pathspecs(pattern: str, path: str, matches: bool) -> None:
    assert globs.file_matches(pattern, path) is matches


def test_a_malformed_pattern_is_an_invalid_spec() -> None:
    with pytest.raises(generators.InvalidSpec, match="unclosed"):
        globs.directory_matches("apps/[a", "apps/a")


def test_normalize_agrees_with_the_helpers(templater: templates.HelperTemplater) -> None:
    samples = ["Hello_World", "-a.b-", "UPPER.case", "x" * 300 + "-", "ünïcödé", "a..b"]
    batch = Batch(
        (),
        tuple({"v": s} for s in samples),
        (generators.Template("n", "{{ normalize .v }}"),),
        tuple((0, i) for i in range(len(samples))),
    )
    assert list(templater.render(batch)) == [names.normalize(s) for s in samples]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("branch", "slug"),
    [
        ("feature/new_thing", "feature-new-thing"),
        ("Fix: A & B @ C", "fix-a-and-b-at-c"),
        ("--weird--", "weird"),
        ("a" * 30 + "-" + "b" * 30, "a" * 30),
        ("c" * 60, "c" * 50),
    ],
)
def test_branch_slugs(branch: str, slug: str) -> None:
    assert names.slug(branch) == slug


# --- inputs, limits and spec checks -----------------------------------------------------------

REPO = "https://git.example.com/apps.git"


def _app_template(name: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"project": "default", "destination": {"namespace": "x"}},
    }


def test_needs_lists_what_a_set_reads_without_templates() -> None:
    spec = {
        "generators": [
            {
                "matrix": {
                    "generators": [
                        {"git": {"repoURL": REPO, "revision": "main", "files": [{"path": "a"}]}},
                        {"git": {"repoURL": "{{ .repo }}", "revision": "main", "files": []}},
                    ]
                }
            },
            {"pullRequest": {"github": {"owner": "o", "repo": "r"}}},
            {"clusters": {}},
        ],
        "template": _app_template("{{ .name }}"),
    }
    assert generators.needs(spec) == generators.Needs(
        repositories=frozenset({generators.GitRef(REPO, "main")}),
        forges=frozenset({generators.ForgeRepo("github", "", "o", "r")}),
        clusters=True,
    )


def test_a_repository_computed_by_a_matrix_sibling_is_asked_for_by_name(
    templater: templates.HelperTemplater,
) -> None:
    spec = {
        "generators": [
            {
                "matrix": {
                    "generators": [
                        {"list": {"elements": [{"repo": "https://git.example.com/{{x}}.git"}]}},
                        {
                            "git": {
                                "repoURL": "{{ .repo }}",
                                "revision": "v1",
                                "directories": [{"path": "*"}],
                            }
                        },
                    ]
                }
            }
        ],
        "template": _app_template("{{ .path.basename }}"),
    }
    with pytest.raises(generators.MissingInput) as raised:
        generators.generate(spec, generators.Inputs(), templater)
    # The list element's own "{{x}}" is data, not a template: only the sibling's fields are.
    assert raised.value.needed == generators.GitRef("https://git.example.com/{{x}}.git", "v1")


def test_a_forge_not_provided_is_asked_for() -> None:
    spec = {
        "generators": [{"pullRequest": {"gitea": {"owner": "o", "repo": "r", "api": "https://g"}}}],
        "template": _app_template("pr-{{ .number }}"),
    }
    with pytest.raises(generators.MissingInput) as raised:
        generators.generate(spec, generators.Inputs(), Recording())
    assert raised.value.needed == generators.ForgeRepo("gitea", "https://g", "o", "r")
    assert str(raised.value) == (
        "spec.generators[0].pullRequest:"
        " the pull requests of gitea o/r at https://g were not provided"
    )


def test_a_matrix_past_the_limit_is_too_many() -> None:
    spec = {
        "generators": [
            {
                "matrix": {
                    "generators": [
                        {"list": {"elements": [{"a": str(i)} for i in range(3)]}},
                        {"list": {"elements": [{"b": str(i)} for i in range(3)]}},
                    ]
                }
            }
        ],
        "template": _app_template("fixed"),
    }
    with pytest.raises(generators.TooMany, match="9 parameter sets, more than 8"):
        generators.generate(
            spec, generators.Inputs(), Recording(), limits=generators.Limits(max_elements=8)
        )


@pytest.mark.parametrize(
    ("generator", "message"),
    [
        ({"scmProvider": {}}, "spec.generators[0].scmProvider: this generator is not supported"),
        (
            {"list": {"elements": []}, "clusters": {}},
            "name exactly one generator (found list, clusters)",
        ),
        (
            {
                "matrix": {
                    "generators": [
                        {"matrix": {"generators": [{"merge": {}}, {"list": {}}]}},
                        {"list": {}},
                    ]
                }
            },
            "spec.generators[0].matrix.generators[0].matrix.generators[0]: matrix and merge"
            " generators nest only once",
        ),
        (
            {
                "matrix": {
                    "generators": [
                        {"list": {"elements": [], "template": {"metadata": {}}}},
                        {"list": {}},
                    ]
                }
            },
            "spec.generators[0].matrix.generators[0].list.template: a child generator's template is"
            " not used",
        ),
        (
            {
                "clusters": {
                    "selector": {
                        "matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]
                    }
                }
            },
            "operator must be one of In, NotIn, Exists, DoesNotExist",
        ),
        (
            {"merge": {"generators": [{"list": {}}, {"list": {}}]}},
            "mergeKeys: a list of one or more",
        ),
        (
            {"git": {"repoURL": REPO, "revision": "HEAD"}},
            "set exactly one of directories and files",
        ),
        ({"pullRequest": {"gitlab": {"project": "p"}}}, "pullRequest.gitlab: not supported"),
    ],
)
def test_specs_argo_cd_would_refuse_are_refused(generator: dict[str, Any], message: str) -> None:
    spec = {"generators": [generator], "template": _app_template("x")}
    with pytest.raises(generators.InvalidSpec) as raised:
        generators.generate(spec, generators.Inputs(), Recording())
    assert message in str(raised.value)


def test_git_files_keep_timestamps_as_written_and_refuse_scalars(
    templater: templates.HelperTemplater,
) -> None:
    spec = {
        "generators": [
            {"git": {"repoURL": REPO, "revision": "HEAD", "files": [{"path": "*.yaml"}]}}
        ],
        "template": _app_template("{{ .name }}"),
        "templatePatch": "metadata: {annotations: {when: '{{ .when }}'}}",
    }
    tree = generators.MemoryTree({"a.yaml": b"name: a\nwhen: 2026-01-02T03:04:05Z\n"})
    inputs = generators.Inputs(repositories={generators.GitRef(REPO, "HEAD"): tree})
    (app,) = generators.generate(spec, inputs, templater)
    assert app.annotations == {"when": "2026-01-02T03:04:05Z"}
    scalar = generators.MemoryTree({"a.yaml": b"just a string\n"})
    with pytest.raises(generators.InvalidDocument, match=r"file a\.yaml: must hold an object"):
        generators.generate(
            spec,
            generators.Inputs(repositories={generators.GitRef(REPO, "HEAD"): scalar}),
            templater,
        )
