"""Pure parts of the dev-cluster layer: PKI, port blocks, instance records."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from tether.devcluster import pki, ports
from tether.devcluster.errors import DevClusterError
from tether.devcluster.layout import InstanceLayout, InstanceRecord, Ports


def test_pki_certificates_chain_to_the_ca_and_carry_identities(tmp_path: Path) -> None:
    pki.generate(tmp_path / "pki")
    d = tmp_path / "pki"
    assert pki.missing_files(d) == []
    ca = x509.load_pem_x509_certificate((d / "ca.crt").read_bytes())
    serving = x509.load_pem_x509_certificate((d / "apiserver.crt").read_bytes())
    serving.verify_directly_issued_by(ca)
    sans = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "127.0.0.1" in {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}
    admin = x509.load_pem_x509_certificate((d / "admin.crt").read_bytes())
    admin.verify_directly_issued_by(ca)
    orgs = [a.value for a in admin.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)]
    assert orgs == ["system:masters"]
    kcm = x509.load_pem_x509_certificate((d / "controller-manager.crt").read_bytes())
    assert kcm.subject.rfc4514_string() == "CN=system:kube-controller-manager"
    assert isinstance(ca.public_key(), ec.EllipticCurvePublicKey)
    assert (d / "ca.key").stat().st_mode & 0o077 == 0
    assert not (tmp_path / "pki.partial").exists()


def test_missing_pki_file_is_reported(tmp_path: Path) -> None:
    pki.generate(tmp_path / "pki")
    (tmp_path / "pki" / "sa.key").unlink()
    assert pki.missing_files(tmp_path / "pki") == ["sa.key"]


def test_port_blocks_skip_claimed_and_busy_ports() -> None:
    first = ports.allocate([])
    claimed = InstanceRecord("a", "v1", first, 1)
    second = ports.allocate([claimed])
    assert set(first.all()).isdisjoint(second.all())
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", second.api))
        holder.listen()
        third = ports.allocate([claimed])
        assert second.api not in third.all()
        with pytest.raises(DevClusterError, match="not free"):
            ports.allocate([], api_port=second.api)


def test_record_round_trips_and_corruption_is_a_clear_error(tmp_path: Path) -> None:
    layout = InstanceLayout.for_name("x", tmp_path)
    record = InstanceRecord("x", "v1.36.3", Ports(1, 2, 3, 4, 5), 3)
    layout.write_record(record)
    assert layout.read_record() == record
    layout.record_file.write_text("{not json")
    with pytest.raises(DevClusterError, match=r"incomplete.*unreadable"):
        layout.read_record()


@pytest.mark.parametrize("name", ["", "UPPER", "-lead", "a" * 40, "dots.no"])
def test_invalid_instance_names_are_refused(name: str, tmp_path: Path) -> None:
    with pytest.raises(DevClusterError, match="invalid instance name"):
        InstanceLayout.for_name(name, tmp_path)
