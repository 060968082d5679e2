"""`tether app`: create, inspect, diff, sync, wait for, roll back and delete Applications."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import typer
import yaml
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from tether.cli import remote
from tether.cli.common import connection_options, fail, run
from tether.cli.progress import console, out
from tether.engine.comparisons import Comparison, diff_summary
from tether.engine.operation import OperationPhase, OperationState
from tether.engine.tracking import AppRef
from tether.reconcile.apps import Application
from tether.reconcile.events import EventKind, StepEvent
from tether.service import apps as use
from tether.service import operations as ops
from tether.service.executions import Execution
from tether.service.runtime import Runtime

HERE = Execution.HERE_IF_NO_CONTROLLER  # the CLI runs an operation itself only if no one else does


def _options(
    kubeconfig: Path | None = typer.Option(
        None, "--kubeconfig", envvar="TETHER_KUBECONFIG", help="Kubeconfig of tether's cluster."
    ),
    context: str | None = typer.Option(None, "--context", help="Kubeconfig context."),
    namespace: str | None = typer.Option(
        None, "--app-namespace", "-N", envvar="TETHER_NAMESPACE", help="Default tether."
    ),
    server: str | None = typer.Option(
        None, "--server", envvar="TETHER_SERVER", help="Go through tether's API at this URL."
    ),
    auth_token: str | None = typer.Option(
        None, "--auth-token", envvar="TETHER_AUTH_TOKEN", help="API token for --server."
    ),
) -> None:
    connection_options(kubeconfig, context, namespace)
    remote.configure(server, auth_token, namespace)


app = typer.Typer(help="Manage Applications.", callback=_options, no_args_is_help=True)

_COLOURS = {
    "Synced": "green",
    "OutOfSync": "yellow",
    "Healthy": "green",
    "Progressing": "blue",
    "Degraded": "red",
    "Missing": "yellow",
    "Suspended": "magenta",
    "Unknown": "dim",
    "Succeeded": "green",
    "Failed": "red",
    "Error": "red",
    "Running": "blue",
}


def _badge(value: str | None) -> str:
    value = value or "Unknown"
    return f"[{_COLOURS.get(value, 'white')}]{value}[/]"


def _dump(data: Any, output: str) -> None:
    if output == "json":
        typer.echo(json.dumps(data, indent=2, sort_keys=False))
    else:
        typer.echo(yaml.safe_dump(data, sort_keys=False).rstrip())


@app.command()
def create(
    name: str = typer.Argument(...),
    repo: str = typer.Option(..., "--repo", help="Git repository URL."),
    path: str = typer.Option(".", "--path", help="Directory in the repository."),
    revision: str = typer.Option("HEAD", "--revision", help="Branch, tag, semver range or SHA."),
    dest_cluster: str = typer.Option("in-cluster", "--dest-cluster"),
    dest_namespace: str = typer.Option("", "--dest-namespace"),
    project: str = typer.Option("default", "--project"),
    sync_policy: str = typer.Option("manual", "--sync-policy", help="manual or automated"),
    self_heal: bool = typer.Option(False, "--self-heal"),
    auto_prune: bool = typer.Option(False, "--auto-prune"),
    allow_empty: bool = typer.Option(False, "--allow-empty"),
    sync_option: list[str] = typer.Option([], "--sync-option", help="e.g. CreateNamespace=true"),
    values: list[str] = typer.Option([], "--values", help="Helm value file (repeatable)."),
    helm_set: list[str] = typer.Option([], "--helm-set", help="Helm parameter name=value."),
    release_name: str = typer.Option("", "--release-name"),
    kustomize_image: list[str] = typer.Option([], "--kustomize-image"),
    directory_recurse: bool = typer.Option(False, "--directory-recurse"),
    label: list[str] = typer.Option([], "--label", help="key=value label on the Application."),
    depends_on: list[str] = typer.Option(
        [], "--depends-on", help="An Application synced first: NAME or NAMESPACE/NAME (repeatable)."
    ),
    upsert: bool = typer.Option(False, "--upsert", help="Replace the spec if the app exists."),
) -> None:
    """Create an Application (idempotent when the spec is the same)."""
    remote.unsupported("create")
    if sync_policy not in ("manual", "automated", "none"):
        raise fail("--sync-policy must be manual or automated")
    opts = use.CreateOptions(
        name=name,
        repo_url=repo,
        path=path,
        revision=revision,
        dest_cluster=dest_cluster,
        dest_namespace=dest_namespace,
        project=project,
        automated=sync_policy == "automated",
        self_heal=self_heal,
        auto_prune=auto_prune,
        allow_empty=allow_empty,
        sync_options=tuple(sync_option),
        helm_value_files=tuple(values),
        helm_parameters=tuple(helm_set),
        release_name=release_name,
        kustomize_images=tuple(kustomize_image),
        directory_recurse=directory_recurse,
        labels=dict(lbl.split("=", 1) for lbl in label),
        depends_on=tuple(depends_on),
        upsert=upsert,
    )
    created = run(lambda rt: use.create(rt, opts))
    console.print(f"application [bold]{created.ref}[/bold] created")


def _summary(app: Application) -> dict[str, Any]:
    status = app.status
    op = status.get("operationState") or {}
    return {
        "name": app.ref.name,
        "namespace": app.ref.namespace,
        "project": app.raw_spec.get("project", "default"),
        "sync": (status.get("sync") or {}).get("status", "Unknown"),
        "health": (status.get("health") or {}).get("status", "Unknown"),
        "revision": (status.get("sync") or {}).get("revision", ""),
        "operation": op.get("phase", ""),
        "destination": app.raw_spec.get("destination", {}),
    }


@app.command("list")
def list_apps(
    output: str = typer.Option("table", "-o", "--output", help="table, wide, json or yaml"),
) -> None:
    """List Applications with sync and health."""
    if remote.enabled():
        summaries = remote.list_apps()
    else:
        apps: list[Application] = run(use.list_apps)
        summaries = [_summary(a) for a in apps]
    if output in ("json", "yaml"):
        _dump(summaries, output)
        return
    table = Table(
        "NAME", "SYNC", "HEALTH", "REVISION" if output == "wide" else "OPERATION", box=None
    )
    for s in summaries:
        table.add_row(
            s["name"],
            _badge(s["sync"]),
            _badge(s["health"]),
            s["revision"] if output == "wide" else s["operation"],
        )
    out.print(table)


@app.command()
def get(
    name: str,
    output: str = typer.Option("table", "-o", "--output", help="table, wide, json or yaml"),
    refresh: bool = typer.Option(
        False, "--refresh", help="Compare with Git and the cluster first."
    ),
) -> None:
    """Show an Application: sync, health, conditions, operation and resources."""

    async def use_case(rt: Runtime) -> Application:
        return await (use.refresh(rt, name) if refresh else use.get(rt, name))

    if remote.enabled() and refresh:
        raise fail("--refresh needs a direct connection (the server shows the last comparison)")
    found = remote.get(name) if remote.enabled() else run(use_case)
    if output in ("json", "yaml"):
        _dump(found.body, output)
        return
    _print_app(found, wide=output == "wide")


def _print_app(found: Application, wide: bool) -> None:
    s = _summary(found)
    status = found.status
    out.print(f"[bold]{s['namespace']}/{s['name']}[/bold]  project {s['project']}")
    out.print(
        f"sync {_badge(s['sync'])}  health {_badge(s['health'])}  revision {s['revision'] or '-'}"
    )
    health_msg = (status.get("health") or {}).get("message")
    if health_msg:
        out.print(f"health: {health_msg}")
    for cond in status.get("conditions") or []:
        out.print(
            f"condition {cond['type']}={cond['status']} ({cond.get('reason', '')}) "
            f"{cond.get('message', '')}"
        )
    op = status.get("operationState")
    if op:
        out.print(f"last operation: {_badge(op.get('phase'))} {op.get('message', '')}")
    table = Table(
        "GROUP",
        "KIND",
        "NAMESPACE",
        "NAME",
        "SYNC",
        "HEALTH",
        *(["MESSAGE"] if wide else []),
        box=None,
    )
    for r in status.get("resources") or []:
        health = r.get("health") or {"status": "-"}
        sync = r.get("status", "") + (" (prune)" if r.get("requiresPruning") else "")
        row = [
            r.get("group", ""),
            r["kind"],
            r.get("namespace", ""),
            r["name"],
            sync,
            _badge(health.get("status")),
        ]
        table.add_row(*row, *([health.get("message", "")] if wide else []))
    out.print(table)
    _print_orphans(status.get("orphanedResources") or [])


def _print_orphans(orphans: Sequence[Mapping[str, Any]]) -> None:
    """The project's orphaned-resource warning, object by object (nothing when there are none)."""
    if not orphans:
        return
    out.print(f"orphaned resources ({len(orphans)}): in the destination namespace, no app tracks")
    table = Table("GROUP", "KIND", "NAMESPACE", "NAME", box=None)
    for o in orphans:
        table.add_row(o.get("group", ""), o.get("kind", ""), o.get("namespace", ""), o["name"])
    out.print(table)


@app.command()
def diff(
    name: str,
    local: Path | None = typer.Option(
        None, "--local", help="Compare a local directory instead of Git."
    ),
    output: str = typer.Option("text", "-o", "--output", help="text or json"),
) -> None:
    """Show what a sync would change. Exit 0: no diff, 1: diff, 2: error (like kubectl diff)."""

    if remote.enabled():
        raise typer.Exit(_remote_diff(name, local, output))
    comparison: Comparison = run(lambda rt: use.compare_named(rt, name, local), error_code=2)
    changed = [r for r in comparison.resources if r.diff.changed]
    if output == "json":
        typer.echo(
            json.dumps(
                {"revision": str(comparison.targets.revision), **diff_summary(comparison)}, indent=2
            )
        )
    else:
        for r in changed:
            typer.echo(r.diff.text if r.diff.text else f"=== {r.key}: {r.diff.action}")
    raise typer.Exit(1 if changed else 0)


def _remote_diff(name: str, local: Path | None, output: str) -> int:
    if local is not None:
        raise fail("--local needs a direct connection, not --server", 2)
    found = remote.diff(name)
    if output == "json":
        typer.echo(json.dumps({"revision": found["revision"], **found["summary"]}, indent=2))
    for r in found["resources"] if output != "json" else []:
        typer.echo(r["diff"] or f"=== {r['kind']}/{r['namespace']}/{r['name']}: {r['action']}")
    return 1 if found["resources"] else 0


@app.command()
def manifests(
    name: str,
    local: Path | None = typer.Option(
        None, "--local", help="Render a local directory instead of Git."
    ),
) -> None:
    """Print the rendered target manifests (Secret values masked)."""
    if remote.enabled() and local is None:
        typer.echo(yaml.safe_dump_all(remote.manifests(name), sort_keys=False).rstrip())
        return
    remote.unsupported("manifests --local")
    comparison: Comparison = run(lambda rt: use.compare_named(rt, name, local))
    typer.echo(yaml.safe_dump_all(use.masked_manifests(comparison), sort_keys=False).rstrip())


_STYLES = {
    EventKind.STAGE: "bold",
    EventKind.FAILED: "red",
    EventKind.FINISHED: "green",
    EventKind.WAITING: "dim",
    EventKind.PRUNED: "yellow",
}


def _progress(event: StepEvent) -> None:
    style = _STYLES.get(event.kind, "white")
    console.print(
        f"[{style}]{event.kind:>8}[/] {escape(event.message)}", soft_wrap=True, highlight=False
    )


def _print_result(state: OperationState) -> None:
    console.print(f"operation {_badge(str(state.phase))}: {state.message}")
    if state.phase is not OperationPhase.SUCCEEDED:
        raise typer.Exit(1)


@app.command()
def sync(
    name: str,
    prune: bool = typer.Option(False, "--prune", help="Delete objects that left the source."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Report what would change; change nothing."
    ),
    resource: list[str] = typer.Option([], "--resource", help="GROUP:KIND:NAME (repeatable)."),
    revision: str = typer.Option(
        "", "--revision", help="Sync to this revision instead of the spec's."
    ),
    timeout: float = typer.Option(600, "--timeout", help="Seconds to wait for the sync to finish."),
    ignore_dependencies: bool = typer.Option(
        False,
        "--ignore-dependencies",
        help="Sync although a dependency (spec.dependsOn) is not Ready (recorded).",
    ),
) -> None:
    """Sync an Application, showing waves, hooks and per-object results as they happen."""
    args = ops.SyncArgs(
        prune=prune,
        dry_run=dry_run,
        resources=tuple(resource),
        revision=revision,
        timeout=timeout,
        ignore_dependencies=ignore_dependencies,
    )
    if remote.enabled():
        console.print(f"sync of {name} requested; waiting for the controller to run it")
        _print_result(remote.sync(name, prune, dry_run, resource, revision, timeout))
        return

    _print_result(run(lambda rt: ops.sync_to_end(rt, name, args, _progress, HERE)))


@app.command()
def wait(
    name: str,
    synced: bool = typer.Option(False, "--sync", help="Until Synced."),
    healthy: bool = typer.Option(False, "--health", help="Until Healthy."),
    operation: bool = typer.Option(False, "--operation", help="Until no operation is running."),
    timeout: float = typer.Option(300, "--timeout"),
) -> None:
    """Wait until the Application is synced and/or healthy (default: both)."""
    remote.unsupported("wait")
    want = ops.WaitFor(
        synced or not (healthy or operation), healthy or not (synced or operation), operation
    )
    found = run(lambda rt: ops.wait(rt, name, want, timeout))
    s = _summary(found)
    console.print(f"{name}: sync {_badge(s['sync'])} health {_badge(s['health'])}")


@app.command()
def history(name: str, output: str = typer.Option("table", "-o", "--output")) -> None:
    """Past successful syncs (newest last)."""
    entries = (
        remote.history(name) if remote.enabled() else ops.history(run(lambda rt: use.get(rt, name)))
    )
    if output in ("json", "yaml"):
        _dump(entries, output)
        return
    table = Table("ID", "DEPLOYED", "REVISION", "BY", "AUTHOR", "MESSAGE", box=None)
    for h in entries:
        by = h.get("initiatedBy") or {}
        table.add_row(
            str(h["id"]),
            h.get("deployedAt", ""),
            h.get("revision", ""),
            "automated" if by.get("automated") else by.get("username", ""),
            h.get("author", ""),
            (h.get("message") or "").splitlines()[0] if h.get("message") else "",
        )
    out.print(table)


@app.command()
def rollback(
    name: str,
    entry_id: int = typer.Argument(..., help="History id to roll back to."),
    prune: bool = typer.Option(False, "--prune"),
    timeout: float = typer.Option(600, "--timeout"),
) -> None:
    """Sync the revision and source of a history entry."""
    if remote.enabled():
        _print_result(remote.rollback(name, entry_id, prune, timeout))
        return
    args = ops.SyncArgs(prune=prune, timeout=timeout)

    _print_result(run(lambda rt: ops.rollback_to_end(rt, name, entry_id, args, _progress, HERE)))


@app.command()
def tree(name: str) -> None:
    """The app's dependencies (spec.dependsOn, transitively) and the apps that depend on it."""
    remote.unsupported("tree")
    found: use.Graph = run(lambda rt: use.graph(rt, name))
    root = found.nodes[found.root]
    top = Tree(_node_label(root), guide_style="dim")
    _branch(top.add("[dim]depends on[/dim]"), found, found.root, found.dependencies, set())
    _branch(top.add("[dim]needed by[/dim]"), found, found.root, found.dependents, set())
    out.print(top)


def _node_label(node: use.Node) -> str:
    if node.app is None:
        return f"[red]{node.ref}[/red]  does not exist"
    s = _summary(node.app)
    ready = (
        "[green]Ready[/green]"
        if node.ready
        else f"[yellow]not Ready[/yellow]: {escape(node.message)}"
    )
    return f"[bold]{node.ref}[/bold]  {_badge(s['sync'])} {_badge(s['health'])}  {ready}"


def _branch(
    parent: Tree,
    graph: use.Graph,
    ref: AppRef,
    next_of: Callable[[AppRef], list[AppRef]],
    seen: set[AppRef],
) -> None:
    for child in next_of(ref):
        if child in seen:
            parent.add(f"{child} [red](cycle)[/red]")
            continue
        _branch(parent.add(_node_label(graph.nodes[child])), graph, child, next_of, seen | {ref})


@app.command("terminate-op")
def terminate_op(name: str) -> None:
    """Stop the app's running operation at its next step boundary (running hooks are deleted)."""
    if remote.enabled():
        console.print(remote.terminate(name))
        return
    console.print(run(lambda rt: ops.terminate(rt, name, "cli", HERE)))


@app.command()
def delete(
    name: str,
    cascade: bool = typer.Option(
        True, "--cascade/--no-cascade", help="Also delete the objects it owns."
    ),
) -> None:
    """Delete an Application (by default with the objects it owns)."""
    if remote.enabled():
        remote.delete(name, cascade)
        console.print(
            f"application {name} deleted" + (" (the controller cascades)" if cascade else "")
        )
        return
    deleted = run(lambda rt: use.delete(rt, name, cascade, HERE, _progress))
    if deleted.cascade_by_controller:
        console.print(f"application {name} deleted (its controller deletes what it deployed)")
        return
    console.print(
        f"application {name} deleted"
        + (f" with {len(deleted.objects)} object(s)" if cascade else "")
    )
