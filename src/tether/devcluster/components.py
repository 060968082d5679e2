"""Command lines of the four processes of an instance, built from its layout and ports.

Kept apart from the orchestration so the flags (the part most worth reading and tuning) sit in
one place. Every listener binds 127.0.0.1; each component authenticates with its own certificate.
"""

from __future__ import annotations

from dataclasses import dataclass

from tether.devcluster import tools
from tether.devcluster.layout import InstanceLayout, InstanceRecord

SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = "10.244.0.0/16"

AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  # Writes by people and by tether are what tests and operators look for; the control plane's
  # own bookkeeping and every read are left out to keep the log small and cheap.
  - level: None
    users: ["system:kube-controller-manager", "system:kube-scheduler", "kwok-controller",
            "system:apiserver"]
  - level: None
    userGroups: ["system:nodes", "system:serviceaccounts:kube-system"]
  - level: None
    verbs: ["get", "list", "watch"]
  - level: Metadata
"""


@dataclass(frozen=True)
class Component:
    name: str
    argv: tuple[str, ...]
    health_port: int | None  # HTTPS /healthz on loopback, None if the component serves none


def apiserver(layout: InstanceLayout, record: InstanceRecord, audit: bool) -> Component:
    pki, ports = layout.pki_dir, record.ports
    argv = [
        str(tools.binary("tether-apiserver")),
        f"--etcd-data-dir={layout.etcd_dir}",
        f"--etcd-client-port={ports.etcd_client}",
        f"--etcd-peer-port={ports.etcd_peer}",
        f"--etcd-log-file={layout.log_file('etcd')}",
        "--",
        "--bind-address=127.0.0.1",
        f"--secure-port={ports.api}",
        "--advertise-address=127.0.0.1",
        "--endpoint-reconciler-type=none",
        f"--etcd-servers=http://127.0.0.1:{ports.etcd_client}",
        f"--cert-dir={layout.root / 'apiserver-certs'}",
        f"--tls-cert-file={pki / 'apiserver.crt'}",
        f"--tls-private-key-file={pki / 'apiserver.key'}",
        f"--client-ca-file={pki / 'ca.crt'}",
        "--service-account-issuer=https://kubernetes.default.svc",
        f"--service-account-key-file={pki / 'sa.pub'}",
        f"--service-account-signing-key-file={pki / 'sa.key'}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--authorization-mode=Node,RBAC",
        "--allow-privileged=true",
        "--profiling=false",
        "--event-ttl=1h",
    ]
    if audit:
        argv += [
            f"--audit-policy-file={layout.audit_policy}",
            f"--audit-log-path={layout.audit_log}",
            "--audit-log-maxsize=100",
            "--audit-log-maxbackup=1",
            "--audit-log-format=json",
        ]
    return Component("apiserver", tuple(argv), None)


def _kube_client_flags(kubeconfig: str) -> list[str]:
    return [
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
        "--leader-elect=false",
    ]


def controller_manager(layout: InstanceLayout, record: InstanceRecord) -> Component:
    pki = layout.pki_dir
    argv = [
        str(tools.binary("kube-controller-manager")),
        *_kube_client_flags(str(layout.component_kubeconfig("controller-manager"))),
        f"--secure-port={record.ports.controller_manager}",
        f"--cert-dir={layout.root / 'controller-manager-certs'}",
        f"--service-account-private-key-file={pki / 'sa.key'}",
        f"--root-ca-file={pki / 'ca.crt'}",
        f"--cluster-signing-cert-file={pki / 'ca.crt'}",
        f"--cluster-signing-key-file={pki / 'ca.key'}",
        "--use-service-account-credentials=true",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--profiling=false",
    ]
    return Component("controller-manager", tuple(argv), record.ports.controller_manager)


def scheduler(layout: InstanceLayout, record: InstanceRecord) -> Component:
    argv = [
        str(tools.binary("kube-scheduler")),
        *_kube_client_flags(str(layout.component_kubeconfig("scheduler"))),
        f"--secure-port={record.ports.scheduler}",
        f"--cert-dir={layout.root / 'scheduler-certs'}",
        "--profiling=false",
    ]
    return Component("scheduler", tuple(argv), record.ports.scheduler)


def kwok(layout: InstanceLayout) -> Component:
    argv = [
        str(tools.binary("kwok")),
        f"--kubeconfig={layout.component_kubeconfig('kwok')}",
        f"--config={layout.root / 'kwok.yaml'}",
        "--manage-all-nodes=false",
        "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
        f"--cidr={POD_CIDR}",
        "--node-ip=10.0.0.1",
        # Node Leases are the heartbeat the node controller watches; without this flag kwok
        # renews none, and every node flaps NotReady each grace period (pods then wait).
        "--node-lease-duration-seconds=40",
    ]
    return Component("kwok", tuple(argv), None)
