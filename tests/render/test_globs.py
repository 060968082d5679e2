"""Argo CD's directory include/exclude glob syntax (gobwas/glob without separators)."""

from __future__ import annotations

import pytest

from tether import render
from tether.render import globs

CASES = [
    # pattern, path, matches
    ("*.yaml", "deploy.yaml", True),
    ("*.yaml", "nested/deploy.yaml", True),  # '*' crosses '/' in Argo CD's globs
    ("*.yaml", "deploy.yml", False),
    ("**/*.yaml", "a/b/c.yaml", True),
    ("nested/*", "nested/deeper/job.yaml", True),
    ("{config.json,deployment.yaml}", "config.json", True),
    ("{config.json,deployment.yaml}", "deployment.yaml", True),
    ("{config.json,deployment.yaml}", "list.yaml", False),
    ("{*.yml,extra/*}", "extra/debug.yaml", True),
    ("{*.yml,extra/*}", "nested/config.yml", True),
    ("{a,{b,c}}.yaml", "c.yaml", True),
    ("?.yaml", "a.yaml", True),
    ("?.yaml", "ab.yaml", False),
    ("[ab].yaml", "b.yaml", True),
    ("[!ab].yaml", "b.yaml", False),
    ("[!ab].yaml", "c.yaml", True),
    ("[a-c]*.yaml", "beta.yaml", True),
    ("\\*.yaml", "*.yaml", True),
    ("\\*.yaml", "x.yaml", False),
    ("deploy.yaml", "deploy.yaml", True),
    ("deploy.yaml", "nested/deploy.yaml", False),
    ("a.b", "axb", False),  # '.' is literal
]


@pytest.mark.parametrize(
    ("pattern", "path", "expected"), CASES, ids=[f"{p}~{t}" for p, t, _ in CASES]
)
def test_glob_semantics(pattern: str, path: str, expected: bool) -> None:
    assert globs.matches(pattern, path) is expected


@pytest.mark.parametrize("pattern", ["{a,b", "[abc", "x{y"])
def test_malformed_globs_are_refused(pattern: str) -> None:
    with pytest.raises(render.InvalidSource, match="invalid glob"):
        globs.compile_glob(pattern)
