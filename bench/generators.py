"""How long an ApplicationSet of 1000 Applications takes to generate, cold and warm.

The set is the issue's scale case: a matrix of a clusters generator (C labelled clusters) and a
Git directories generator (`apps/*` over D directories), C x D Applications from a template of
the usual shape (name, three labels, an annotation, source, destination) plus a templatePatch.
It is generated through the real path: `tether.generators.generate` with the helper-backed
Templater (`tether.render.templates`), the template helper doing the Go template evaluation.

- cold: a new Templater each run, so the helper process starts inside the measured run;
- warm: the same Templater again, `--runs` times (the median is reported): what each resync
  of an unchanged set costs the controller.

Each is the median of `--runs` runs. For each it prints wall time, CPU seconds (this process,
plus the helper's from /proc) and the per-Application cost, and how much of the wall time was
spent waiting for the helper. Two
reference points: one helper round trip with a single template (the floor per batch), and the
same set through a toy Python templater that only substitutes `{{ .a.b }}` (what a pure-Python
subset would cost at best; it is not Go's template language and is not used by tether).

    uv run python bench/generators.py [--clusters 10] [--directories 100] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tether import generators
from tether.generators import Batch, Failure, Template
from tether.render import templates

URL = "https://git.example.com/fleet.git"
_TICKS = os.sysconf("SC_CLK_TCK")

SPEC: dict[str, Any] = {
    "goTemplate": True,
    "goTemplateOptions": ["missingkey=error"],
    "generators": [
        {
            "matrix": {
                "generators": [
                    {"clusters": {"selector": {"matchLabels": {"fleet": "yes"}}}},
                    {
                        "git": {
                            "repoURL": URL,
                            "revision": "HEAD",
                            "directories": [{"path": "apps/*"}],
                        }
                    },
                ]
            }
        }
    ],
    "template": {
        "metadata": {
            "name": "{{ .path.basename }}-{{ .name }}",
            "labels": {
                "app": "{{ .path.basename }}",
                "cluster": "{{ .name }}",
                "env": '{{ index .metadata.labels "env" }}',
            },
            "annotations": {"tether.dev/path": "{{ .path.path }}"},
        },
        "spec": {
            "project": "fleet",
            "source": {"repoURL": URL, "targetRevision": "HEAD", "path": "{{ .path.path }}"},
            "destination": {"server": "{{ .server }}", "namespace": "{{ .path.basename }}"},
        },
    },
    "templatePatch": '{{ if eq (index .metadata.labels "env") "prod" }}'
    "{spec: {syncPolicy: {automated: {prune: true}}}}{{ end }}",
}


def inputs(clusters: int, directories: int) -> generators.Inputs:
    fleet = tuple(
        generators.Cluster(
            name=f"cluster-{i:02d}",
            server=f"https://cluster-{i:02d}.example.com",
            labels={"fleet": "yes", "env": "prod" if i % 2 else "staging"},
        )
        for i in range(clusters)
    )
    tree = generators.MemoryTree(
        {f"apps/app-{j:03d}/kustomization.yaml": b"resources: []\n" for j in range(directories)}
    )
    return generators.Inputs(clusters=fleet, repositories={generators.GitRef(URL, "HEAD"): tree})


class Timed:
    """A Templater wrapper that adds up the time spent waiting for the templater."""

    def __init__(self, inner: generators.Templater) -> None:
        self.inner = inner
        self.waited = 0.0

    def render(self, batch: Batch) -> Sequence[str] | Failure:
        start = time.perf_counter()
        try:
            return self.inner.render(batch)
        finally:
            self.waited += time.perf_counter() - start


class Substituting:
    """A toy templater for the comparison only: `{{ .a.b }}` and `{{ index .a.b "k" }}`."""

    _ACTION = re.compile(r'{{\s*(?:index\s+)?\.([\w.]+)(?:\s+"([^"]+)")?\s*}}')

    def render(self, batch: Batch) -> Sequence[str] | Failure:
        return [self._one(batch.templates[t].text, batch.params[p]) for t, p in batch.jobs]

    def _one(self, text: str, params: dict[str, Any]) -> str:
        def look(match: re.Match[str]) -> str:
            value: Any = params
            for part in match.group(1).split("."):
                value = value[part]
            return str(value[match.group(2)] if match.group(2) else value)

        return self._ACTION.sub(look, text) if "{{ if" not in text else ""


@dataclass(frozen=True)
class Run:
    wall: float
    cpu: float
    waited: float
    apps: int


def _cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _cpu_of(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / _TICKS
    return total


def measure(
    templater: generators.Templater, data: generators.Inputs, pids: Callable[[], list[int]]
) -> Run:
    timed = Timed(templater)
    cpu_before, helper_before = _cpu_self(), _cpu_of(pids())
    start = time.perf_counter()
    apps = generators.generate(SPEC, data, timed)
    wall = time.perf_counter() - start
    cpu = _cpu_self() - cpu_before + _cpu_of(pids()) - helper_before
    return Run(wall, cpu, timed.waited, len(apps))


def _line(label: str, run: Run) -> str:
    per_app = run.wall / run.apps * 1e6
    return (
        f"{label:<28} {run.apps:>5} apps  wall {run.wall * 1000:7.1f} ms"
        f"  cpu {run.cpu * 1000:7.1f} ms  per app {per_app:6.1f} µs"
        f"  waiting for templates {run.waited * 1000:6.1f} ms"
    )


def _median(runs: list[Run]) -> Run:
    return sorted(runs, key=lambda r: r.wall)[len(runs) // 2]


def round_trip(templater: templates.HelperTemplater, runs: int) -> float:
    batch = Batch((), ({"name": "x"},), (Template("t", "{{ .name }}"),), ((0, 0),))
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        templater.render(batch)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clusters", type=int, default=10)
    parser.add_argument("--directories", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    data = inputs(args.clusters, args.directories)
    executable = templates.locate()

    cold_start = time.perf_counter()
    first = templates.HelperTemplater(executable, size=1)
    first.render(Batch((), ({},), (Template("t", "x"),), ((0, 0),)))
    start_cost = time.perf_counter() - cold_start
    first.close()

    colds = []
    for _ in range(args.runs):
        fresh = templates.HelperTemplater(executable, size=1)
        colds.append(measure(fresh, data, fresh.pids))
        fresh.close()
    templater = templates.HelperTemplater(executable, size=1)
    measure(templater, data, templater.pids)
    warm = [measure(templater, data, templater.pids) for _ in range(args.runs)]
    floor = round_trip(templater, 200)
    templater.close()
    toy = [measure(Substituting(), data, list) for _ in range(args.runs)]

    shape = f"{args.clusters} clusters x {args.directories} directories"
    print(f"matrix of {shape}, median of {args.runs} runs")
    print(_line("cold (helper starts inside)", _median(colds)))
    print(_line("warm", _median(warm)))
    print(_line("toy Python substitution", _median(toy)))
    print(f"helper start + first reply      {start_cost * 1000:8.1f} ms")
    print(f"one-template round trip (warm)  {floor * 1e6:8.1f} µs")


if __name__ == "__main__":
    main()
