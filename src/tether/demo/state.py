"""Where `tether up` keeps its state, and the small record of what it decided and started.

Everything lives under `$TETHER_HOME/up/` (the clusters keep theirs in `$TETHER_HOME/clusters/`):

    state.json        ports chosen once (so URLs stay valid) and the clusters `up` started
    age.agekey        the demo's SOPS key (mode 0600; its public half encrypts the example Secret)
    git/gitops.git    the example repository, served by git daemon (its history survives restarts)
    run/*.pid         PID files of the git daemon, the controller and a foreground `tether up`
    logs/*.log        their output
    cache/, state/    the controller's Git cache and audit trail (XDG_CACHE_HOME, XDG_STATE_HOME)

Only clusters listed as owned are stopped by `tether up --down`: a cluster that was already
running when `tether up` came (a `tether dev up` of the user's) is used, never stopped.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from tether.devcluster.layout import tether_home

ENVIRONMENTS = ("dev", "staging", "prod")
MANAGEMENT = "dev"  # where tether runs and the Applications live
REPO_NAME = "gitops.git"
TETHER_NAMESPACE = "tether"


@dataclass(frozen=True)
class UpLayout:
    """Paths of `tether up`'s files."""

    root: Path

    @classmethod
    def at(cls, home: Path | None = None) -> UpLayout:
        return cls((home or tether_home()) / "up")

    @property
    def home(self) -> Path:
        return self.root.parent

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def age_key(self) -> Path:
        return self.root / "age.agekey"

    @property
    def git_base(self) -> Path:
        return self.root / "git"

    @property
    def bare_repo(self) -> Path:
        return self.git_base / REPO_NAME

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    @property
    def lock_file(self) -> Path:
        return self.root / "up.lock"

    @property
    def audit_db(self) -> Path:
        return self.state_dir / "audit.db"

    def pid_file(self, process: str) -> Path:
        return self.root / "run" / f"{process}.pid"

    def log_file(self, process: str) -> Path:
        return self.root / "logs" / f"{process}.log"

    def kubeconfig(self, cluster: str) -> Path:
        return self.home / "clusters" / cluster / "kubeconfig"


@dataclass(frozen=True)
class UpState:
    """What one `tether up` decided for all later ones (persisted as state.json)."""

    git_port: int = 0
    controller_port: int = 0
    server_port: int = 0
    owned_clusters: tuple[str, ...] = ()  # started by `tether up`: stopped by `--down`
    created_clusters: tuple[str, ...] = ()  # made by `tether up`: deleted by `--down --purge`

    def owning(self, cluster: str) -> UpState:
        if cluster in self.owned_clusters:
            return self
        return replace(self, owned_clusters=(*self.owned_clusters, cluster))

    def disowning_all(self) -> UpState:
        """After `--down` stopped them: a cluster the user starts later is theirs, not ours."""
        return replace(self, owned_clusters=())

    def creating(self, cluster: str) -> UpState:
        if cluster in self.created_clusters:
            return self
        return replace(self, created_clusters=(*self.created_clusters, cluster))


def read(layout: UpLayout) -> UpState:
    try:
        raw = json.loads(layout.state_file.read_text())
    except (OSError, ValueError):
        return UpState()
    return UpState(
        git_port=int(raw.get("git_port", 0)),
        controller_port=int(raw.get("controller_port", 0)),
        server_port=int(raw.get("server_port", 0)),
        owned_clusters=tuple(raw.get("owned_clusters", ())),
        created_clusters=tuple(raw.get("created_clusters", ())),
    )


def write(layout: UpLayout, state: UpState) -> None:
    layout.root.mkdir(parents=True, exist_ok=True)
    tmp = layout.state_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(state), indent=2) + "\n")
    tmp.replace(layout.state_file)
