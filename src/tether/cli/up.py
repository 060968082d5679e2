"""`tether up`: the whole example, on this machine, from one command (see tether.demo).

Like `docker compose up`: it stays in the foreground, and Ctrl-C (or SIGTERM, or `tether up
--down` from another terminal) stops everything it started. `--detach` returns as soon as the
example is up and leaves it running; `tether up --down` stops it later. Either way a second
`tether up` resumes the same clusters, repository and keys.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from types import FrameType

import typer
from rich.console import RenderableType
from rich.progress import Progress
from rich.table import Table

from tether.cli.progress import StepProgress, console, out, progress_display
from tether.demo import lifecycle, services, statuses
from tether.demo.state import MANAGEMENT, UpLayout
from tether.devcluster.errors import DevClusterError


class _Display(Progress):
    """The progress bars, with the example's Applications as a table below them."""

    table: Table | None = None

    def get_renderables(self) -> Iterable[RenderableType]:
        yield self.make_tasks_table(self.tasks)
        if self.table is not None:
            yield self.table


class _Reporter:
    """The lifecycle's reporter: messages and steps as progress lines, apps as the table."""

    def __init__(self, steps: StepProgress) -> None:
        self.say, self.step = steps.say, steps.step
        self._display = steps.progress

    def apps(self, found: Sequence[statuses.AppSummary], waiting: Sequence[str]) -> None:
        total = len(found) + sum(1 for w in waiting if w.endswith("(not created yet)"))
        self.step("apps Synced and Healthy", total - len(waiting), total)
        if isinstance(self._display, _Display):
            self._display.table = apps_table(found)


def apps_table(found: Sequence[statuses.AppSummary]) -> Table:
    table = Table(box=None, pad_edge=False)
    for column in ("APPLICATION", "CLUSTER", "SYNC", "HEALTH", "MESSAGE"):
        table.add_column(column, no_wrap=column != "MESSAGE", overflow="fold")
    for app in found:
        style = "green" if app.ready else "yellow"
        table.add_row(app.name, app.cluster, app.sync, app.health, app.message, style=style)
    return table


def up(
    down: bool = typer.Option(False, "--down", help="Stop everything `tether up` started."),
    purge: bool = typer.Option(
        False,
        "--purge",
        help="With --down: also delete its repository, key and the clusters it made.",
    ),
    detach: bool = typer.Option(
        False, "--detach", "-d", help="Return once it is up; processes keep running."
    ),
    wait_healthy: bool = typer.Option(
        True, "--wait-healthy/--no-wait-healthy", help="Wait until every example app is Healthy."
    ),
    timeout: float = typer.Option(600.0, "--timeout", help="Seconds to wait for Healthy."),
    nodes: int = typer.Option(3, "--nodes", min=1, max=20, help="kwok nodes per cluster."),
    port: int | None = typer.Option(
        None,
        "--port",
        help="First use: dev's API port P (staging P+10, prod P+20; Git, controller, UI P+30..32).",
    ),
    ui_port: int | None = typer.Option(
        None, "--ui-port", help="UI port on first use (default 8080; 0: any free port)."
    ),
    ui: bool = typer.Option(True, "--ui/--no-ui", help="Start the API/UI server."),
) -> None:
    """Start three local clusters, a Git server with an example monorepo, and tether managing
    them all; wait until every example app is Healthy, print how to use it, and stay in the
    foreground until Ctrl-C (or return at once with --detach)."""
    layout = UpLayout.at()
    if purge and not down:
        console.print("[red]error:[/red] --purge goes with --down: `tether up --down --purge`")
        raise typer.Exit(2)
    if down:
        _down(layout, purge)
        return
    options = lifecycle.UpOptions(
        nodes=nodes,
        first_port=port,
        server_port=ui_port,
        server=ui,
        wait_healthy=wait_healthy,
        timeout=timeout,
    )
    try:
        with lifecycle.locked(layout):
            running = _start(layout, options)
    except DevClusterError as error:
        console.print(f"[red]error:[/red] {error.cause} [yellow]fix:[/yellow] {error.fix}")
        _down(layout, purge=False)  # as `tether dev up`: a failed start leaves nothing running
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        console.print("interrupted: stopping what `tether up` started")
        _down(layout, purge=False)
        raise typer.Exit(130) from None
    _summary(running, detach)
    if not detach:
        _foreground(layout)  # even when not all Healthy: the user may want to look
    elif running.waited is not None and not running.waited.ready:
        raise typer.Exit(1)  # running, but not Healthy: say so to scripts


def _start(layout: UpLayout, options: lifecycle.UpOptions) -> lifecycle.Running:
    with progress_display(_Display) as steps:
        return asyncio.run(lifecycle.up(options, _Reporter(steps)))


def _down(layout: UpLayout, purge: bool) -> None:
    if lifecycle.stop_foreground(layout):
        console.print("stopped the `tether up` running in the foreground")
    try:
        with lifecycle.locked(layout, wait=60.0):  # a foreground `up` may still be stopping
            stopped = lifecycle.down(None, purge=purge)
    except DevClusterError as error:
        console.print(f"[red]error:[/red] {error.cause} [yellow]fix:[/yellow] {error.fix}")
        raise typer.Exit(1) from None
    console.print(stopped.describe())


def _foreground(layout: UpLayout) -> None:
    """Wait for Ctrl-C or SIGTERM, then stop everything; also return if the controller dies."""
    lifecycle.mark_foreground(layout)
    stop = threading.Event()

    def handler(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    while not stop.wait(2.0):
        if not services.running(layout, services.CONTROLLER):
            console.print("the controller is no longer running (stopped elsewhere?)")
            break
    console.print("stopping what `tether up` started ...")
    begin = time.monotonic()
    with lifecycle.locked(layout, wait=60.0):
        stopped = lifecycle.down(None)
    console.print(f"{stopped.describe()} in {time.monotonic() - begin:.1f}s")


def _summary(running: lifecycle.Running, detach: bool) -> None:
    waited = running.waited
    if waited is not None and not waited.ready:
        out.print(apps_table(waited.apps))
    lines = [_headline(running), *summary_lines(running), ""]
    if detach:
        lines.append("Running in the background; `tether up --down` stops it.")
    else:
        lines.append(
            "Running in the foreground: Ctrl-C stops everything `tether up` started "
            "(`tether up --detach` returns instead)."
        )
    for line in lines:
        out.print(line, highlight=False, soft_wrap=True)


def _headline(running: lifecycle.Running) -> str:
    waited = running.waited
    if waited is None:
        return f"tether is up in {running.seconds:.1f}s (--no-wait-healthy: apps not awaited)"
    if waited.ready:
        return (
            f"tether is up: {len(waited.apps)} applications Synced and Healthy in 3 clusters, "
            f"{waited.seconds:.1f}s after the command"
        )
    return (
        f"[red]not all Healthy after {waited.seconds:.0f}s[/red] (everything keeps running; the "
        f"table above says why): " + "; ".join(waited.waiting_for)
    )


def summary_lines(running: lifecycle.Running) -> list[str]:
    """The "where is everything and what to try" text (pure, so tests can read it)."""
    kube = {env: str(path) for env, path in running.kubeconfigs.items()}
    clone, prod = "/tmp/gitops", "apps/api/overlays/prod"
    if running.server_url:
        login = running.admin_password or "(changed: the tether-initial-admin Secret is gone)"
        ui = [f"  UI           {running.server_url}   login: admin / {login}"]
    elif running.server_problem:
        ui = [f"  UI           did not start: {running.server_problem}"]
    else:
        ui = ["  UI           not started (--no-ui, or this tether has no `tether server` yet)"]
    return [
        "",
        *ui,
        f"  Git          {running.repo_url}   (push enabled, no credentials)",
        f"  management   export KUBECONFIG={kube[MANAGEMENT]}   # then: tether app list",
        f"  clusters     {', '.join(f'{env}: {path}' for env, path in kube.items())}",
        f"  controller   {running.controller_url}/metrics   logs: {running.layout.root / 'logs'}",
        "",
        "Things to try, in a shell with tether and kubectl (the project's environment):",
        f"       source {sys.prefix}/bin/activate && export KUBECONFIG={kube[MANAGEMENT]}",
        "  1. Change a file in Git and push; the controller notices within seconds:",
        f"       git clone {running.repo_url} {clone} && cd {clone}",
        "       sed -i 's/Hello from Git/Hello again/' apps/guestbook/configmap.yaml",
        "       git commit -qam 'New greeting' && git push -q",
        f"       kubectl --kubeconfig {kube['prod']} -n guestbook get configmap guestbook -o yaml",
        "  2. Change something by hand and watch tether put it back (self-heal):",
        f"       kubectl --kubeconfig {kube['staging']} -n api scale deployment api --replicas 5",
        f"       kubectl --kubeconfig {kube['staging']} -n api get deployment api -w   # back to 2",
        "  3. Promote to prod. Promotions with approval gates are not in tether yet; today a",
        "     promotion is a reviewed commit. Preview it, then push it:",
        f"       cd {clone} && sed -i 's/1.4.0/1.5.0-rc.2/' {prod}/kustomization.yaml",
        f"       tether app diff api-prod --local {prod}",
        "       git commit -qam 'Promote api 1.5.0-rc.2 to prod' && git push -q",
        "  4. See what waits for what (spec.dependsOn), and stop a running sync:",
        "       tether app tree api-prod ; tether app terminate-op api-prod",
    ]
