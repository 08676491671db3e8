"""The lab PKI: the certificates a trainee's device and the host really validate."""
from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import stat
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from host.pki import UPN_OID, LabPKI

NOW = dt.datetime.now(dt.timezone.utc)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LabPKI:
    return LabPKI(tmp_path_factory.mktemp("data") / "pki")


def lab_store(pki: LabPKI) -> Store:
    return Store(x509.load_pem_x509_certificates(pki.trusted_roots_pem()))


def intermediates(chain_path: Path) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(chain_path.read_bytes())[1:]


def verify_server(pki: LabPKI, issued, name: str, *, at: dt.datetime = NOW, store: Store | None = None) -> None:
    subject = x509.IPAddress(ipaddress.ip_address(name)) if name[0].isdigit() else x509.DNSName(name)
    verifier = PolicyBuilder().store(store or lab_store(pki)).time(at).build_server_verifier(subject)
    verifier.verify(issued.certificate, intermediates(issued.chain_path))


def test_root_and_intermediate_are_cas_and_chain(pki: LabPKI) -> None:
    root = pki.ensure_root()
    kinds = {c.subject: c for c in pki.list()}
    intermediate = next(c for c in kinds.values() if c.kind == "intermediate")

    assert root.kind == "root" and "CN=EASLab Root CA" in root.subject
    assert root.issuer_name == root.subject
    assert intermediate.issuer_name == root.subject and "CN=EASLab Issuing CA" in intermediate.subject
    for ca in (root, intermediate):
        constraints = ca.certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
        usage = ca.certificate.extensions.get_extension_for_class(x509.KeyUsage).value
        assert constraints.ca and usage.key_cert_sign and usage.crl_sign
    assert dt.timedelta(days=3640) < root.not_after - root.not_before < dt.timedelta(days=3660)
    intermediate.certificate.verify_directly_issued_by(root.certificate)


def test_server_certificate_verifies_with_the_lab_root_only_through_its_chain(pki: LabPKI) -> None:
    issued = pki.issue_server(["mail.contoso.com", "mail"], ["127.0.0.1"])

    verify_server(pki, issued, "mail.contoso.com")
    verify_server(pki, issued, "127.0.0.1")
    # Without the intermediate (a binding that sends the bare certificate) the chain cannot be built.
    verifier = PolicyBuilder().store(lab_store(pki)).build_server_verifier(x509.DNSName("mail.contoso.com"))
    with pytest.raises(VerificationError):
        verifier.verify(issued.certificate, [])
    with pytest.raises(VerificationError):
        verify_server(pki, issued, "owa.contoso.com")


def test_server_certificate_carries_names_ips_and_server_auth(pki: LabPKI) -> None:
    issued = pki.issue_server(["mail.contoso.com", "autodiscover.contoso.com"], ["127.0.0.2", "::1"])
    san = issued.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    eku = issued.certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value

    assert san.get_values_for_type(x509.DNSName) == ["mail.contoso.com", "autodiscover.contoso.com"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.2", "::1"]
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert issued.names == ("mail.contoso.com", "autodiscover.contoso.com", "127.0.0.2", "::1")
    assert issued.kind == "server" and issued.subject.endswith("CN=mail.contoso.com")
    assert dt.timedelta(days=729) < issued.not_after - NOW < dt.timedelta(days=731)


def test_default_server_certificate_covers_machine_names_and_is_reissued_when_ips_change(tmp_path: Path) -> None:
    pki = LabPKI(tmp_path / "pki")
    first = pki.ensure_default_server_cert([], ["127.0.0.1"])

    for name in (socket.gethostname(), socket.getfqdn(), "localhost", "127.0.0.1"):
        assert name in first.names
    verify_server(pki, first, "localhost")
    assert pki.ensure_default_server_cert([], ["127.0.0.1"]).thumbprint == first.thumbprint
    moved = pki.ensure_default_server_cert([], ["127.0.0.2"])
    assert moved.thumbprint != first.thumbprint and "127.0.0.2" in moved.names
    assert LabPKI(tmp_path / "pki").ensure_default_server_cert([], ["127.0.0.2"]).thumbprint == moved.thumbprint


def test_expired_and_not_yet_valid_certificates_fail_validation_now(pki: LabPKI) -> None:
    minute = dt.timedelta(minutes=1)
    expired = pki.issue_server(["old.contoso.com"], not_before=NOW - 5 * minute, not_after=NOW - minute)
    future = pki.issue_server(["new.contoso.com"], not_before=NOW + dt.timedelta(days=1))

    assert not expired.is_valid_at(NOW) and not future.is_valid_at(NOW)
    with pytest.raises(VerificationError):
        verify_server(pki, expired, "old.contoso.com")
    with pytest.raises(VerificationError):
        verify_server(pki, future, "new.contoso.com")
    # The same certificates are fine inside their validity window: only the date is wrong.
    verify_server(pki, expired, "old.contoso.com", at=NOW - 3 * minute)
    verify_server(pki, future, "new.contoso.com", at=NOW + dt.timedelta(days=30))


def test_wildcard_certificate_matches_one_label(pki: LabPKI) -> None:
    wildcard = pki.issue_server(["*.contoso.com"])

    verify_server(pki, wildcard, "mail.contoso.com")
    with pytest.raises(VerificationError):
        verify_server(pki, wildcard, "a.b.contoso.com")


def test_untrusted_issuer_is_outside_the_trusted_roots_but_known_to_the_tls_layer(pki: LabPKI) -> None:
    issued = pki.issue_server(["mail.contoso.com"], issuer="untrusted")

    assert "EASLab Untrusted Root" in issued.issuer_name
    with pytest.raises(VerificationError):
        verify_server(pki, issued, "mail.contoso.com")
    all_cas = Store(x509.load_pem_x509_certificates(pki.all_ca_pem()))
    verify_server(pki, issued, "mail.contoso.com", store=all_cas)
    assert x509.load_pem_x509_certificates(pki.trusted_roots_pem()) == [pki.ensure_root().certificate]


def test_client_certificate_is_an_ad_cs_style_user_certificate(pki: LabPKI) -> None:
    issued = pki.issue_client("alice@contoso.com")
    cert = issued.certificate
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    upn = [o for o in san.get_values_for_type(x509.OtherName) if o.type_id == UPN_OID]

    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "alice"
    assert upn and upn[0].value == b"\x0c\x11alice@contoso.com"  # DER UTF8String
    assert san.get_values_for_type(x509.RFC822Name) == ["alice@contoso.com"]
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH
    ]
    assert issued.kind == "client" and issued.names == ("alice@contoso.com", "alice@contoso.com")
    verifier = PolicyBuilder().store(lab_store(pki)).build_client_verifier()
    verifier.verify(cert, intermediates(issued.chain_path))


def test_client_certificate_dates_and_untrusted_issuer(pki: LabPKI) -> None:
    expired = pki.issue_client("bob@contoso.com", not_after=NOW - dt.timedelta(hours=1))
    untrusted = pki.issue_client("eve@contoso.com", issuer="untrusted")
    verifier = PolicyBuilder().store(lab_store(pki)).build_client_verifier()

    with pytest.raises(VerificationError):
        verifier.verify(expired.certificate, intermediates(expired.chain_path))
    with pytest.raises(VerificationError):
        verifier.verify(untrusted.certificate, intermediates(untrusted.chain_path))
    with pytest.raises(ValueError, match="UPN"):
        pki.issue_client("alice")


def test_find_accepts_thumbprints_as_iis_and_certmgr_show_them(pki: LabPKI) -> None:
    issued = pki.issue_server(["find.contoso.com"])
    spaced = " ".join(issued.thumbprint[i : i + 2] for i in range(0, 40, 2)).lower()

    assert len(issued.thumbprint) == 40 and issued.thumbprint == issued.thumbprint.upper()
    assert pki.find(spaced).thumbprint == issued.thumbprint
    assert pki.find(issued.thumbprint.lower()).names == ("find.contoso.com",)
    assert pki.find("00" * 20) is None
    assert pki.find("../index") is None
    assert issued.thumbprint in {c.thumbprint for c in pki.list()}


def test_private_keys_are_owner_only_and_match_their_certificates(pki: LabPKI) -> None:
    issued = pki.issue_server(["keys.contoso.com"])

    for path in pki.directory.glob("*.key"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(issued.cert_path.stat().st_mode) == 0o644
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(issued.chain_path, issued.key_path)  # raises if the key does not match


def test_a_second_store_on_the_same_directory_reuses_the_root(tmp_path: Path) -> None:
    stores = [LabPKI(tmp_path / "pki") for _ in range(3)]
    roots: list[str] = []
    threads = [threading.Thread(target=lambda s=s: roots.append(s.ensure_root().thumbprint)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert len(roots) == 3 and len(set(roots)) == 1
    assert LabPKI(tmp_path / "pki").ensure_root().thumbprint == roots[0]
    assert [c.kind for c in LabPKI(tmp_path / "pki").list()] == ["root", "root", "intermediate"]


def test_export_root_writes_pem_and_der(pki: LabPKI, tmp_path: Path) -> None:
    root = pki.ensure_root()
    pem = pki.export_root(tmp_path / "root.cer")
    der = pki.export_root(tmp_path / "root.der", encoding="der")

    assert x509.load_pem_x509_certificate(pem.read_bytes()) == root.certificate
    assert x509.load_der_x509_certificate(der.read_bytes()) == root.certificate
    assert b"PRIVATE KEY" not in pem.read_bytes()
    with pytest.raises(ValueError):
        pki.export_root(tmp_path / "root.p7b", encoding="p7b")  # type: ignore[arg-type]


def test_trusted_client_certificate_means_signed_through_the_lab_root(pki: LabPKI, tmp_path: Path) -> None:
    lab = pki.issue_client("alice@contoso.com")
    expired = pki.issue_client("bob@contoso.com", not_after=NOW - dt.timedelta(days=1))
    untrusted = pki.issue_client("eve@contoso.com", issuer="untrusted")
    # Another lab's CAs carry the very same names: only the signatures tell them apart.
    look_alike = LabPKI(tmp_path / "other").issue_client("mallory@contoso.com")
    server = pki.issue_server(["mail.contoso.com"])

    assert look_alike.issuer_name == lab.issuer_name
    assert pki.is_trusted_client_certificate(lab.certificate)
    assert pki.is_trusted_client_certificate(expired.certificate)  # dates are 403.17's business
    assert not pki.is_trusted_client_certificate(untrusted.certificate)
    assert not pki.is_trusted_client_certificate(look_alike.certificate)
    assert not pki.is_trusted_client_certificate(server.certificate)  # serverAuth only
