"""`tether bootstrap`: install tether and point the cluster at a directory in Git (app-of-apps)."""

from __future__ import annotations

from pathlib import Path

import typer

from tether.cli.common import connection_options, run
from tether.cli.progress import console
from tether.service import bootstrap as use


def bootstrap(
    repo: str = typer.Option(..., "--repo", help="Git repository URL holding the cluster's state."),
    path: str = typer.Option(..., "--path", help="Directory for this cluster, e.g. clusters/prod."),
    branch: str = typer.Option("HEAD", "--branch", help="Branch (or tag, semver range, SHA)."),
    name: str = typer.Option(use.ROOT_APP, "--name", help="Name of the root Application."),
    kubeconfig: Path | None = typer.Option(None, "--kubeconfig", envvar="TETHER_KUBECONFIG"),
    context: str | None = typer.Option(None, "--context"),
    namespace: str | None = typer.Option(
        None, "--app-namespace", "-N", envvar="TETHER_NAMESPACE", help="tether's namespace."
    ),
) -> None:
    """Install tether's CRDs and namespace and create the root Application that syncs everything
    under PATH (tether's configuration, child Applications); idempotent."""
    connection_options(kubeconfig, context, namespace)
    opts = use.BootstrapOptions(repo_url=repo, path=path, branch=branch, name=name)
    result = run(lambda rt: use.bootstrap(rt, opts))
    _report(result, opts)


def _report(result: use.BootstrapResult, opts: use.BootstrapOptions) -> None:
    crds = ", ".join(result.crds)
    state = "installed" if result.installed else "unchanged"
    console.print(f"CRDs {crds} and namespace {result.namespace}: {state}", highlight=False)
    console.print(
        f"root application {result.namespace}/{result.root}: {result.root_action} "
        f"({opts.repo_url} {opts.path} at {opts.branch}; automated, prune, self-heal)",
        highlight=False,
    )
    if not result.changed:
        console.print("already bootstrapped: nothing changed", highlight=False)
        return
    console.print(
        "the controller syncs it from here: run `tether controller`, or commit tether's install "
        "manifests under the path (see the README)",
        highlight=False,
    )
