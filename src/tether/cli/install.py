"""`tether install`: tether's CRDs and namespace in the cluster the kubeconfig points at."""

from __future__ import annotations

import typer

from tether.cli.common import connection_options, run
from tether.cli.progress import console
from tether.service import apps as use


def install(
    kubeconfig: str | None = typer.Option(None, "--kubeconfig", envvar="TETHER_KUBECONFIG"),
    context: str | None = typer.Option(None, "--context"),
    namespace: str | None = typer.Option(None, "--app-namespace", "-N", envvar="TETHER_NAMESPACE"),
) -> None:
    """Install (or upgrade) tether's CRDs and namespace; idempotent."""
    from pathlib import Path

    connection_options(Path(kubeconfig) if kubeconfig else None, context, namespace)
    names = run(lambda rt: use.install(rt.kube, rt.settings.namespace))
    console.print(f"installed {', '.join(names)}")
