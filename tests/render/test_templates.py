"""The template helper as a sandbox: deadlines, memory and output caps, a bare environment, and
a pool that replaces a helper it had to kill and still names the job at fault.

Everything runs the real helper (`tether-template-helper`, built by `tether dev build`); the
templates that misbehave are ordinary Go templates, since the language lets a tenant write a
loop, a doubling string or a huge output, which is exactly what the sandbox must survive.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tether.devcluster import tools
from tether.generators import Batch, Failure, FailureKind, Template
from tether.render import templates
from tether.render.errors import ToolMissing


def _batch(
    *texts: str, params: Sequence[dict[str, object]] = ({},), options: Sequence[str] = ()
) -> Batch:
    return Batch(
        tuple(options),
        tuple(params),
        tuple(Template(f"field{i}", t) for i, t in enumerate(texts)),
        tuple((t, p) for p in range(len(params)) for t in range(len(texts))),
    )


@pytest.fixture
def executable() -> str:
    try:
        return templates.locate()
    except ToolMissing as missing:
        pytest.fail(f"{missing}")


@pytest.fixture
def templater(executable: str) -> Iterator[templates.HelperTemplater]:
    limits = templates.TemplateLimits(
        timeout=2.0, max_output=1000, max_total=5000, memory=256 * templates.MiB
    )
    made = templates.HelperTemplater(executable, limits=limits, size=2)
    yield made
    made.close()


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


def test_outputs_come_back_in_job_order(templater: templates.HelperTemplater) -> None:
    batch = _batch(
        "{{ .a }}",
        "{{ .a | upper }}-{{ len .l }}",
        params=[{"a": "x", "l": [1]}, {"a": "y", "l": []}],
    )
    assert list(templater.render(batch)) == ["x", "X-1", "y", "Y-0"]  # type: ignore[arg-type]


def test_missingkey_options_are_go_s(templater: templates.HelperTemplater) -> None:
    assert list(templater.render(_batch("{{ .nope }}"))) == ["<no value>"]  # type: ignore[arg-type]
    assert list(templater.render(_batch("{{ .nope }}", options=["missingkey=zero"]))) == [
        "<no value>"  # a map of interface{}: the zero value prints as <no value> too
    ]
    failure = templater.render(_batch("ok", "{{ .nope }}", options=["missingkey=error"]))
    assert failure == Failure(
        1,
        FailureKind.EXEC,
        'template: field1:1:3: executing "field1" at <.nope>: map has no entry for key "nope"',
    )


def test_a_loop_is_stopped_at_the_deadline_and_named(templater: templates.HelperTemplater) -> None:
    assert list(templater.render(_batch("warm"))) == ["warm"]
    (pid,) = templater.pids()
    spin = "{{ range until 1000000 }}{{ range until 1000000 }}{{ end }}{{ end }}"
    failure = templater.render(_batch("fine", spin, params=[{}, {}]))
    assert isinstance(failure, Failure)
    assert (failure.job, failure.kind) == (1, FailureKind.TIMEOUT)  # job 1: field1 on params 0
    assert failure.message == "took longer than 2s and was stopped"
    assert _gone(pid)  # killed, with its whole process group
    assert list(templater.render(_batch("{{ 1 }}"))) == ["1"]  # a fresh helper takes over


def test_memory_is_capped_and_the_job_named(templater: templates.HelperTemplater) -> None:
    doubling = '{{ $x := "0123456789abcdef" }}{{ range until 40 }}{{ $x = print $x $x }}{{ end }}'
    failure = templater.render(_batch("fine", doubling))
    assert isinstance(failure, Failure)
    assert (failure.job, failure.kind) == (1, FailureKind.CRASHED)
    assert failure.message == "the template helper ran out of memory (limit 256 MiB)"
    assert list(templater.render(_batch("{{ 2 }}"))) == ["2"]


def test_allocating_functions_refuse_absurd_arguments(templater: templates.HelperTemplater) -> None:
    for text in (
        '{{ repeat 100000000 "ab" }}',
        "{{ until 100000000 }}",
        '{{ indent 100000000 "x" }}',
    ):
        failure = templater.render(_batch(text))
        assert isinstance(failure, Failure)
        assert failure.kind is FailureKind.EXEC, text
        assert "more than" in failure.message


def test_outputs_are_capped_one_by_one_and_together(templater: templates.HelperTemplater) -> None:
    one = templater.render(_batch('{{ repeat 1001 "x" }}'))
    assert one == Failure(0, FailureKind.TOO_LARGE, "template: field0: wrote more than 1000 bytes")
    together = templater.render(_batch('{{ repeat 900 "x" }}', params=[{}] * 6))
    assert together == Failure(5, FailureKind.TOO_LARGE, "the batch wrote more than 5000 bytes")


def test_the_helper_sees_no_environment_and_no_functions_to_read_one(
    templater: templates.HelperTemplater, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TETHER_SECRET_FOR_TEST", "hunter2")
    for name in ("env", "expandenv", "getHostByName"):
        failure = templater.render(_batch(f'{{{{ {name} "x" }}}}'))
        assert failure == Failure(
            0, FailureKind.PARSE, f'template: field0:1: function "{name}" not defined'
        )
    (pid,) = templater.pids()
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    assert not any(e.startswith(b"TETHER_SECRET_FOR_TEST=") for e in environ)
    assert b"HTTPS_PROXY=http://127.0.0.1:9" in environ


def test_a_helper_killed_while_idle_is_replaced_silently(
    templater: templates.HelperTemplater,
) -> None:
    assert list(templater.render(_batch("a"))) == ["a"]
    (pid,) = templater.pids()
    os.kill(pid, 9)
    assert list(templater.render(_batch("b"))) == ["b"]
    assert pid not in templater.pids()


def test_concurrent_callers_get_helpers_of_their_own(templater: templates.HelperTemplater) -> None:
    results: list[Sequence[str] | Failure] = []
    batch = _batch("{{ .n }}", params=[{"n": i} for i in range(200)])

    def call() -> None:
        results.append(templater.render(batch))

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(list(r) == [str(i) for i in range(200)] for r in results)  # type: ignore[arg-type]
    assert len(templater.pids()) <= 2


def test_an_unrunnable_helper_is_a_failure_not_a_crash(tmp_path: Path) -> None:
    broken = templates.HelperTemplater(str(tmp_path / "missing-helper"))
    failure = broken.render(_batch("x"))
    assert isinstance(failure, Failure)
    assert failure.kind is FailureKind.UNAVAILABLE


def test_close_stops_every_helper(executable: str) -> None:
    made = templates.HelperTemplater(executable)
    made.render(_batch("x"))
    pids = made.pids()
    made.close()
    assert pids and all(_gone(p) for p in pids)


def test_the_helper_is_a_pinned_tool() -> None:
    assert tools.TEMPLATE_HELPER in tools.ALL_TOOLS
    assert tools.is_current(tools.TEMPLATE_HELPER), (
        "rebuild: tether dev build --tool template-helper"
    )
