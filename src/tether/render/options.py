"""What a render needs besides the files: destination facts and resource limits.

The destination facts feed Helm's `--kube-version`, `--api-versions` and `.Release.Namespace`;
they are part of the render cache key because the same commit renders differently for a
different cluster. The limits bound every render, because repositories are untrusted input: a
YAML alias bomb, a chart that loops or a generator that writes gigabytes must cost a bounded
amount of time and memory, and fail with a clear error.
"""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1024 * 1024


@dataclass(frozen=True)
class RenderContext:
    app_name: str  # Helm's default release name
    namespace: str  # the destination namespace: Helm's --namespace / .Release.Namespace
    kube_version: str = ""  # e.g. "v1.36.3"; a Helm source's kubeVersion wins over it
    api_versions: tuple[str, ...] = ()  # "apps/v1", "monitoring.coreos.com/v1/ServiceMonitor"


@dataclass(frozen=True)
class RenderLimits:
    timeout_seconds: float = 60.0
    max_output_bytes: int = 64 * MiB  # tool stdout, or manifest bytes read from a directory
    max_documents: int = 10_000
    max_depth: int = 100  # nesting of mappings and sequences in one document
    max_nodes: int = 1_000_000  # nodes reached when walking parsed YAML, aliases counted each time
