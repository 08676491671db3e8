"""Server certificate trust and client certificates, failing for the real reason (PITFALLS §2.9, §2.1)."""
from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import pytest

from device import TlsError, TlsFailure, TlsSettings, TransportError, refuse_wildcard_names
from eas_fakes import FakeEasServer, Issued, issue, make_ca, open_session  # noqa: F401 (fixture)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | Issued]:
    folder = tmp_path_factory.mktemp("pki")
    lab, other = make_ca("Lab Root CA"), make_ca("Somebody Else's CA")
    made: dict[str, Path | Issued] = {"folder": folder, "lab_ca": lab.write(folder, "lab-ca")[0],
                                      "other_ca": other.write(folder, "other-ca")[0]}
    certs = {"good": issue(lab, "localhost", dns=["localhost"], ips=["127.0.0.1"]),
             "wrong_name": issue(lab, "mail.contoso.com", dns=["mail.contoso.com"]),
             "expired": issue(lab, "localhost", ips=["127.0.0.1"], expired=True),
             "wildcard": issue(lab, "*.contoso.com", dns=["*.contoso.com"]),
             "client": issue(lab, "alice", client=True)}
    for name, issued in certs.items():
        made[name] = issued
        made[f"{name}_files"] = issued.write(folder, name)
    return made


@pytest.fixture
def tls_server(pki) -> Callable[..., contextmanager]:
    @contextmanager
    def serve(cert: str, *, require_client_cert: bool = False) -> Iterator[FakeEasServer]:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*map(str, pki[f"{cert}_files"]))
        if require_client_cert:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(cafile=str(pki["lab_ca"]))
        with FakeEasServer(tls=context) as server:
            yield server

    return serve


def test_a_trusted_certificate_with_the_right_name_connects(pki, tls_server, open_session) -> None:
    with tls_server("good") as server:
        response = open_session(server.url, version=None, tls=TlsSettings(ca_file=pki["lab_ca"])).options()
    assert response.http_status == 200
    assert response.tls.verified and response.tls.hostname_checked
    assert response.tls.peer.ip_addresses == ("127.0.0.1",) and response.tls.peer.issuer == "CN=Lab Root CA"


@pytest.mark.parametrize("cert, ca, failure, wininet, verify_code", [
    ("good", "other_ca", TlsFailure.UNTRUSTED_ROOT, 0x80072F0D, 20),
    ("wrong_name", "lab_ca", TlsFailure.NAME_MISMATCH, 0x80072F06, 64),
    ("expired", "lab_ca", TlsFailure.DATE_INVALID, 0x80072F05, 10),
])
def test_certificate_failures_carry_the_wininet_code_a_device_shows(pki, tls_server, open_session, cert, ca,
                                                                    failure, wininet, verify_code) -> None:
    with tls_server(cert) as server:
        phone = open_session(server.url, version=None, tls=TlsSettings(ca_file=pki[ca]))
        with pytest.raises(TlsError) as error:
            phone.options()
        assert server.requests == [], "the handshake failed, so no request reached the server"
    assert error.value.failure is failure
    assert error.value.wininet == wininet
    assert error.value.verify_code == verify_code
    assert not error.value.vetoed


def test_secure_0_skips_every_check_and_says_so(pki, tls_server, open_session) -> None:
    with tls_server("expired") as server:
        response = open_session(server.url, version=None,
                                tls=TlsSettings(ca_file=pki["other_ca"], verify=False)).options()
    assert response.http_status == 200
    assert response.tls.verified is False
    assert response.tls.peer.not_after < datetime.now(timezone.utc), "the expired certificate was accepted"


def test_hostname_checking_can_be_switched_off_alone(pki, tls_server, open_session) -> None:
    with tls_server("wrong_name") as server:
        response = open_session(server.url, version=None,
                                tls=TlsSettings(ca_file=pki["lab_ca"], check_hostname=False)).options()
    assert response.tls.verified and not response.tls.hostname_checked


def test_a_wm5_style_device_refuses_a_wildcard_certificate_openssl_accepts(pki, tls_server, open_session) -> None:
    with tls_server("wildcard") as server:
        url = f"https://mail.contoso.com:{server.port}/Microsoft-Server-ActiveSync"
        address = ("127.0.0.1", server.port)
        modern = open_session(url, version=None, address=address, tls=TlsSettings(ca_file=pki["lab_ca"]))
        assert modern.options().tls.peer.dns_names == ("*.contoso.com",)
        wm5 = open_session(url, version=None, address=address,
                           tls=TlsSettings(ca_file=pki["lab_ca"], certificate_check=refuse_wildcard_names))
        with pytest.raises(TlsError) as error:
            wm5.options()
    assert error.value.failure is TlsFailure.NAME_MISMATCH and error.value.wininet == 0x80072F06
    assert error.value.vetoed and error.value.peer.dns_names == ("*.contoso.com",)


def test_client_certificate_is_presented_when_the_server_requires_one(pki, tls_server, open_session) -> None:
    cert_file, key_file = pki["client_files"]
    with tls_server("good", require_client_cert=True) as server:
        with_cert = open_session(server.url, version=None, tls=TlsSettings(
            ca_file=pki["lab_ca"], client_cert=cert_file, client_key=key_file))
        assert with_cert.options().http_status == 200
        assert server.requests[0].client_certificate["subject"] == ((("commonName", "alice"),),)
        without = open_session(server.url, version=None, tls=TlsSettings(ca_file=pki["lab_ca"]))
        with pytest.raises(TransportError) as error:
            without.options()
        assert len(server.requests) == 1, "the device without a certificate never got a request through"
    # TLS 1.3 reports the missing certificate after the client's Finished: the client
    # reads alert 116, unless the server's close resets the socket before it arrives.
    if isinstance(error.value, TlsError):
        assert error.value.failure in (TlsFailure.CLIENT_CERTIFICATE_NEEDED, TlsFailure.HANDSHAKE_FAILURE)
    if "CERTIFICATE_REQUIRED" in str(error.value):
        assert error.value.wininet == 0x80072F0C


def test_post_handshake_auth_is_a_device_capability() -> None:
    assert TlsSettings().context().post_handshake_auth is True
    assert TlsSettings(post_handshake_auth=False).context().post_handshake_auth is False


def test_tls13_alert_116_means_the_device_had_no_certificate_to_give() -> None:
    from device.tls import classify

    alert = ssl.SSLError(1, "[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert certificate required")
    alert.reason = "TLSV13_ALERT_CERTIFICATE_REQUIRED"
    assert classify(alert).failure is TlsFailure.CLIENT_CERTIFICATE_NEEDED
    assert classify(alert).wininet == 0x80072F0C
    assert classify(ssl.SSLError(1, "wrong version number")).failure is TlsFailure.HANDSHAKE_FAILURE


def test_refuse_wildcard_names_still_accepts_an_exact_name(pki) -> None:
    from device import PeerCertificate
    from cryptography.hazmat.primitives.serialization import Encoding

    exact = PeerCertificate.from_der(pki["good"].cert.public_bytes(Encoding.DER))
    wildcard = PeerCertificate.from_der(pki["wildcard"].cert.public_bytes(Encoding.DER))
    assert refuse_wildcard_names(exact, "LOCALHOST.") is None
    assert refuse_wildcard_names(exact, "127.0.0.1") is None
    assert refuse_wildcard_names(wildcard, "mail.contoso.com") is TlsFailure.NAME_MISMATCH
