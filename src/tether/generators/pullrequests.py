"""The pullRequest generator: one set per open pull request of a forge repository.

The forge is named by a provider block (`gitea` or `github`, Argo CD's fields: `owner`, `repo`,
`api`, `labels`); the caller lists the open pull requests (the forge client is not part of this
package). A pull request is kept when it carries every one of the block's `labels` and passes
the `filters` (each filter's `branchMatch`, `targetBranchMatch` and `titleMatch` regexes must
all match; any one filter may; no filters keep everything). Parameters, as Argo CD names them:
`number` (a string), `title`, `author`, `branch`, `branch_slug`, `target_branch`,
`target_branch_slug`, `head_sha`, `head_short_sha` (8 characters), `head_short_sha_7`,
`labels` (a list), and `values`. Pull requests come out by number.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from tether.generators import names
from tether.generators.elements import Context, Element, numbered, with_values
from tether.generators.errors import InvalidSpec, MissingInput
from tether.generators.inputs import ForgeRepo, PullRequest
from tether.generators.params import Params

PROVIDERS = ("gitea", "github")
_UNSUPPORTED = ("gitlab", "bitbucketServer", "bitbucket", "azuredevops")
_FILTER_FIELDS = {
    "branchMatch": "branch",
    "targetBranchMatch": "target_branch",
    "titleMatch": "title",
}


def forge_of(body: Mapping[str, Any], where: str) -> tuple[ForgeRepo, tuple[str, ...]]:
    """The forge repository a pullRequest generator names, and its required labels."""
    chosen = [p for p in PROVIDERS if p in body]
    if unsupported := [p for p in _UNSUPPORTED if p in body]:
        raise InvalidSpec(f"{where}.{unsupported[0]}: not supported; use gitea or github")
    if len(chosen) != 1:
        raise InvalidSpec(f"{where}: name exactly one forge ({' or '.join(PROVIDERS)})")
    provider = chosen[0]
    block = body[provider]
    if not isinstance(block, Mapping):
        raise InvalidSpec(f"{where}.{provider}: must be a mapping")
    owner, repo, api = block.get("owner"), block.get("repo"), block.get("api", "")
    if not (isinstance(owner, str) and owner and isinstance(repo, str) and repo):
        raise InvalidSpec(f"{where}.{provider}: owner and repo are required")
    if not isinstance(api, str):
        raise InvalidSpec(f"{where}.{provider}.api: must be a string")
    labels = block.get("labels") or []
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise InvalidSpec(f"{where}.{provider}.labels: must be a list of strings")
    return ForgeRepo(provider, api, owner, repo), tuple(labels)


def generate(body: Mapping[str, Any], where: str, ctx: Context) -> list[Element]:
    forge, labels = forge_of(body, where)
    filters = _filters(body.get("filters"), f"{where}.filters")
    pulls = ctx.inputs.pull_requests.get(forge)
    if pulls is None:
        raise MissingInput(f"{where}: the pull requests of {forge} were not provided", needed=forge)
    kept = [
        p
        for p in sorted(pulls, key=lambda p: p.number)
        if set(labels) <= set(p.labels) and _passes(p, filters)
    ]
    elements = numbered(where, [_params(p) for p in kept], ctx)
    return with_values(elements, body.get("values"), where, ctx)


Filter = tuple[tuple[str, re.Pattern[str]], ...]


def _filters(raw: Any, where: str) -> list[Filter]:
    if not raw:
        return []
    if not isinstance(raw, list):
        raise InvalidSpec(f"{where}: must be a list")
    filters = []
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise InvalidSpec(f"{where}[{i}]: must be a mapping")
        conditions = []
        for field, attribute in _FILTER_FIELDS.items():
            if (pattern := item.get(field)) is not None:
                conditions.append((attribute, _regex(pattern, f"{where}[{i}].{field}")))
        filters.append(tuple(conditions))
    return filters


def _regex(pattern: Any, where: str) -> re.Pattern[str]:
    if not isinstance(pattern, str):
        raise InvalidSpec(f"{where}: must be a string")
    try:
        return re.compile(pattern)
    except re.error as e:
        raise InvalidSpec(f"{where}: not a regular expression: {e}") from None


def _passes(pull: PullRequest, filters: Sequence[Filter]) -> bool:
    if not filters:
        return True
    return any(all(r.search(getattr(pull, a)) for a, r in f) for f in filters)


def _params(pull: PullRequest) -> Params:
    return {
        "number": str(pull.number),
        "title": pull.title,
        "author": pull.author,
        "branch": pull.branch,
        "branch_slug": names.slug(pull.branch),
        "target_branch": pull.target_branch,
        "target_branch_slug": names.slug(pull.target_branch),
        "head_sha": pull.head_sha,
        "head_short_sha": pull.head_sha[:8],
        "head_short_sha_7": pull.head_sha[:7],
        "labels": list(pull.labels),
    }
