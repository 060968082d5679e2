"""`tether dev`: local real control planes (kube-apiserver, controller-manager, scheduler, kwok)."""

from __future__ import annotations

import asyncio
import json

import typer

from tether.cli.progress import console, progress_display
from tether.devcluster import instance, tools
from tether.devcluster.errors import DevClusterError
from tether.devcluster.layout import InstanceLayout

app = typer.Typer(help="Local Kubernetes control planes built from Kubernetes' own Go modules.")

NAME = typer.Option("dev", "--name", "-n", help="Instance name; each instance is its own cluster.")


def _fail(error: DevClusterError) -> typer.Exit:
    console.print(
        f"[red]error:[/red] {error.cause} [yellow]fix:[/yellow] {error.fix}", soft_wrap=True
    )
    return typer.Exit(1)


@app.command()
def up(
    name: str = NAME,
    nodes: int = typer.Option(3, "--nodes", min=1, max=100, help="Number of kwok fake nodes."),
    port: int | None = typer.Option(None, "--port", help="API server port (first use only)."),
) -> None:
    """Build what is missing, start the control plane and kwok, wait until nodes are Ready."""
    options = instance.UpOptions(name=name, nodes=nodes, port=port)
    try:
        with progress_display() as display:
            result = asyncio.run(instance.up(options, display.say, display.step))
    except DevClusterError as error:
        raise _fail(error) from None
    if result.already_running:
        console.print(f"instance [bold]{name}[/bold] is already running; nothing to do")
    else:
        console.print(
            f"instance [bold]{name}[/bold] up: API ready in {result.seconds_to_ready:.1f}s, "
            f"{nodes} nodes Ready in {result.seconds_to_nodes:.1f}s "
            f"(https://127.0.0.1:{result.record.ports.api})"
        )
    typer.echo(str(result.kubeconfig))


@app.command()
def down(
    name: str = NAME,
    purge: bool = typer.Option(False, "--purge", help="Also delete the data directory."),
) -> None:
    """Stop the processes `up` started (and only those)."""
    try:
        stopped = instance.down(name, purge=purge)
    except DevClusterError as error:
        raise _fail(error) from None
    what = ", ".join(stopped) if stopped else "nothing was running"
    console.print(
        f"instance [bold]{name}[/bold]: stopped {what}" + ("; data purged" if purge else "")
    )


@app.command()
def status(output: str = typer.Option("table", "-o", help="table or json")) -> None:
    """List instances, their components and ports."""
    rows = instance.status_all()
    if output == "json":
        typer.echo(json.dumps([_status_dict(s) for s in rows], indent=2))
        return
    if not rows:
        console.print("no instances; start one with `tether dev up`")
    for s in rows:
        api = f"https://127.0.0.1:{s.record.ports.api}" if s.record else "-"
        pids = " ".join(f"{c}={pid or '-'}" for c, pid in s.running.items())
        typer.echo(f"{s.name:<12} {s.state:<9} {api:<26} {pids}")


def _status_dict(s: instance.InstanceStatus) -> dict[str, object]:
    return {
        "name": s.name,
        "state": s.state,
        "root": str(s.root),
        "api": f"https://127.0.0.1:{s.record.ports.api}" if s.record else None,
        "pids": s.running,
    }


@app.command()
def kubeconfig(name: str = typer.Argument("dev")) -> None:
    """Print the admin kubeconfig path of an instance."""
    layout = InstanceLayout.for_name(name)
    if not layout.kubeconfig.exists():
        raise _fail(
            DevClusterError(
                f"instance {name!r} does not exist", f"run `tether dev up --name {name}`"
            )
        )
    typer.echo(str(layout.kubeconfig))


@app.command()
def build(
    all_tools: bool = typer.Option(False, "--all", help="Also kustomize, helm, sops and age."),
    only: list[str] = typer.Option([], "--tool", help="Build just this tool (repeatable)."),
) -> None:
    """Build the control plane and kwok (and with --all every pinned tool) into .tools/bin."""
    wanted: tuple[tools.Tool, ...] = tools.ALL_TOOLS if all_tools else tools.CLUSTER_TOOLS
    if only:
        wanted = tuple(t for t in tools.ALL_TOOLS if t.name in only)
    try:
        with progress_display() as display:
            built = tools.ensure(wanted, display.step)
    except DevClusterError as error:
        raise _fail(error) from None
    names = ", ".join(t.name for t in built) or "nothing (all current)"
    console.print(f"built {names}; binaries in {tools.tools_bin()}")
