"""The instance's own certificate authority, serving and client certificates, and SA keys.

Each instance gets a fresh ECDSA CA. The API server's serving certificate names 127.0.0.1 and the
in-cluster service names, so clients verify TLS against the CA instead of skipping verification.
Every component authenticates with its own client certificate (`system:kube-controller-manager`,
`system:kube-scheduler`, ...) so RBAC applies to each as in a real cluster.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = dt.timedelta(days=3650)
SERVICE_IP = "10.96.0.1"
SERVING_NAMES = (
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)


@dataclass(frozen=True)
class ClientIdentity:
    """A client certificate's subject: CN is the user, O entries are the groups."""

    file_stem: str
    user: str
    groups: tuple[str, ...] = ()


CLIENTS = (
    ClientIdentity("admin", "tether-admin", ("system:masters",)),
    ClientIdentity("controller-manager", "system:kube-controller-manager"),
    ClientIdentity("scheduler", "system:kube-scheduler"),
    # kwok plays every kubelet; node and pod status writes need broad rights.
    ClientIdentity("kwok", "kwok-controller", ("system:masters",)),
)
REQUIRED_FILES = (
    *("ca.crt", "ca.key", "apiserver.crt", "apiserver.key", "sa.key", "sa.pub"),
    *(f"{c.file_stem}.{ext}" for c in CLIENTS for ext in ("crt", "key")),
)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _name(common_name: str, organizations: tuple[str, ...] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    return x509.Name([*attrs, x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(
    subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey
) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
    )


def _make_ca() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _new_key()
    name = _name("tether-dev-ca")
    cert = (
        _builder(name, name, key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _leaf(
    ca: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    subject: x509.Name,
    usage: x509.ObjectIdentifier,
    sans: list[x509.GeneralName] | None = None,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _new_key()
    builder = _builder(subject, ca.subject, key).add_extension(
        x509.ExtendedKeyUsage([usage]), critical=False
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def _serving_sans() -> list[x509.GeneralName]:
    ips = [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ("127.0.0.1", SERVICE_IP)]
    return [*ips, *(x509.DNSName(n) for n in SERVING_NAMES)]


def _write(
    directory: Path, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> None:
    (directory / f"{stem}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file = directory / f"{stem}.key"
    key_file.write_bytes(_key_pem(key))
    key_file.chmod(0o600)


def generate(pki_dir: Path) -> None:
    """Create the whole PKI atomically: a crash leaves either nothing or everything."""
    staging = pki_dir.with_name(pki_dir.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True, mode=0o700)
    ca, ca_key = _make_ca()
    _write(staging, "ca", ca, ca_key)
    serving = _leaf(
        ca, ca_key, _name("kube-apiserver"), ExtendedKeyUsageOID.SERVER_AUTH, _serving_sans()
    )
    _write(staging, "apiserver", *serving)
    for client in CLIENTS:
        cert, key = _leaf(
            ca, ca_key, _name(client.user, client.groups), ExtendedKeyUsageOID.CLIENT_AUTH
        )
        _write(staging, client.file_stem, cert, key)
    sa_key = _new_key()
    (staging / "sa.key").write_bytes(_key_pem(sa_key))
    (staging / "sa.pub").write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    staging.replace(pki_dir)


def missing_files(pki_dir: Path) -> list[str]:
    return [f for f in REQUIRED_FILES if not (pki_dir / f).is_file()]
