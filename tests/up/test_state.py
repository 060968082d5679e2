"""`tether up`'s state: what it decided once (ports) and what it owns (clusters to stop)."""

from __future__ import annotations

from pathlib import Path

from tether.cli import up as up_cli
from tether.demo import lifecycle, state
from tether.demo.state import UpLayout, UpState


def test_state_round_trips_and_defaults_when_missing_or_damaged(tmp_path: Path) -> None:
    layout = UpLayout(tmp_path / "up")
    assert state.read(layout) == UpState()
    chosen = UpState(git_port=9418, controller_port=8081, server_port=8080).owning("dev")
    state.write(layout, chosen.creating("dev").creating("dev"))
    assert state.read(layout) == chosen.creating("dev")
    layout.state_file.write_text("{not json")
    assert state.read(layout) == UpState()


def test_down_forgets_ownership_but_keeps_ports_and_what_it_made() -> None:
    current = UpState(git_port=1).owning("dev").owning("prod").owning("dev").creating("prod")
    assert current.owned_clusters == ("dev", "prod")
    after = current.disowning_all()
    assert after.owned_clusters == () and after.created_clusters == ("prod",)
    assert after.git_port == 1


def test_layout_paths_live_under_home_up(tmp_path: Path) -> None:
    layout = UpLayout.at(tmp_path)
    assert layout.root == tmp_path / "up"
    assert layout.kubeconfig("prod") == tmp_path / "clusters/prod/kubeconfig"
    assert layout.pid_file("controller").parent == layout.root / "run"


def test_required_apps_are_the_roots_and_their_children() -> None:
    required = lifecycle.required_apps()
    assert required[:3] == ["root-dev", "root-staging", "root-prod"]
    assert "guestbook-prod" in required and len(required) == 15


def test_summary_names_every_endpoint_and_is_honest_about_promotions(tmp_path: Path) -> None:
    layout = UpLayout(tmp_path / "up")
    kubeconfigs = {env: layout.kubeconfig(env) for env in state.ENVIRONMENTS}
    running = lifecycle.Running(
        layout,
        "git://127.0.0.1:9418/gitops.git",
        kubeconfigs,
        "http://127.0.0.1:8081",
        "http://127.0.0.1:8080",
        None,
        "s3cret",
        None,
        12.0,
    )
    text = "\n".join(up_cli.summary_lines(running))
    assert "http://127.0.0.1:8080   login: admin / s3cret" in text
    assert "git clone git://127.0.0.1:9418/gitops.git" in text
    assert "not in tether yet" in text  # promotions: the closest real thing is offered
    assert str(kubeconfigs["staging"]) in text


def test_down_says_what_it_stopped_and_deleted() -> None:
    assert lifecycle.Stopped(()).describe() == "stopped nothing (nothing was running)"
    both = lifecycle.Stopped(("controller", "cluster dev"), ("/h/up", "cluster dev"))
    assert both.describe() == "stopped controller, cluster dev; deleted /h/up, cluster dev"
