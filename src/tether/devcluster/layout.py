"""Where an instance keeps its files, and the small JSON record of its ports and version.

Everything an instance owns lives under one directory (`$TETHER_HOME/clusters/<name>`, default
`~/.tether`): PKI, etcd data, kubeconfigs, logs and PID files. Restarting with the same directory
keeps every object; removing it (`down --purge`) makes the next `up` a fresh cluster.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tether.devcluster.errors import DevClusterError

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,30}$")
COMPONENTS = ("apiserver", "controller-manager", "scheduler", "kwok")


def tether_home() -> Path:
    return Path(os.environ.get("TETHER_HOME") or Path.home() / ".tether")


def validate_name(name: str) -> str:
    if not _NAME.match(name):
        raise DevClusterError(
            f"invalid instance name {name!r}",
            "use lowercase letters, digits and dashes, at most 31 characters",
        )
    return name


@dataclass(frozen=True)
class Ports:
    """Every loopback port one instance uses; all differ between instances."""

    api: int
    etcd_client: int
    etcd_peer: int
    controller_manager: int
    scheduler: int

    def all(self) -> tuple[int, ...]:
        return tuple(asdict(self).values())


@dataclass(frozen=True)
class InstanceRecord:
    """What `up` decided when it first created the instance; persisted as instance.json."""

    name: str
    kubernetes_version: str
    ports: Ports
    nodes: int

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> InstanceRecord:
        raw: dict[str, Any] = json.loads(text)
        return cls(
            name=str(raw["name"]),
            kubernetes_version=str(raw["kubernetes_version"]),
            ports=Ports(**raw["ports"]),
            nodes=int(raw["nodes"]),
        )


@dataclass(frozen=True)
class InstanceLayout:
    """Paths of one instance's files."""

    name: str
    root: Path

    @classmethod
    def for_name(cls, name: str, home: Path | None = None) -> InstanceLayout:
        return cls(validate_name(name), (home or tether_home()) / "clusters" / name)

    @property
    def record_file(self) -> Path:
        return self.root / "instance.json"

    @property
    def pki_dir(self) -> Path:
        return self.root / "pki"

    @property
    def etcd_dir(self) -> Path:
        return self.root / "etcd"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def run_dir(self) -> Path:
        return self.root / "run"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    def component_kubeconfig(self, component: str) -> Path:
        return self.root / f"{component}.kubeconfig"

    def pid_file(self, component: str) -> Path:
        return self.run_dir / f"{component}.pid"

    def log_file(self, component: str) -> Path:
        return self.logs_dir / f"{component}.log"

    @property
    def audit_policy(self) -> Path:
        return self.root / "audit-policy.yaml"

    @property
    def audit_log(self) -> Path:
        return self.logs_dir / "audit.log"

    def read_record(self) -> InstanceRecord | None:
        """The persisted record, None for a fresh instance; a corrupt one is a clear error."""
        if not self.record_file.exists():
            return None
        try:
            return InstanceRecord.from_json(self.record_file.read_text())
        except (ValueError, KeyError, TypeError) as exc:
            raise self.damaged(f"{self.record_file.name} is unreadable ({exc})") from exc

    def write_record(self, record: InstanceRecord) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.record_file.with_suffix(".tmp")
        tmp.write_text(record.to_json())
        tmp.replace(self.record_file)

    def damaged(self, detail: str) -> DevClusterError:
        return DevClusterError(
            f"data directory of instance {self.name!r} ({self.root}) is incomplete: {detail}",
            f"start it afresh: `tether dev down --name {self.name} --purge`, "
            f"then `tether dev up --name {self.name}`",
        )


def known_instances(home: Path | None = None) -> list[InstanceLayout]:
    clusters = (home or tether_home()) / "clusters"
    if not clusters.is_dir():
        return []
    return [InstanceLayout(p.name, p) for p in sorted(clusters.iterdir()) if _NAME.match(p.name)]
