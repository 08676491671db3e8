"""The host as a trainee runs it: ``python -m host serve`` on 127.0.0.1, real TLS, real NTLM, reload."""
from __future__ import annotations

import base64
import ssl

import pytest

from conftest import DWORD
from host.regfile import RegType
from host.testing import registry_text
from realhost import RealHost, get, last_row, ntlm_get, wait_until

pytestmark = pytest.mark.realserver
ALICE_BASIC = {"Authorization": "Basic " + base64.b64encode(b"CONTOSO\\alice:P@ssw0rd").decode()}


@pytest.fixture
def real_host(tmp_path):
    hosts = []

    def start(text=None) -> RealHost:
        host = RealHost(tmp_path / f"h{len(hosts)}", text)
        hosts.append(host)
        host.start()
        return host

    yield start
    for host in hosts:
        assert host.stop() == 0


def test_default_host_answers_on_both_bindings_with_iis_server_header(real_host):
    host = real_host()
    status, headers, body = get(host.http(), "/")
    assert status == 200 and b"Under Construction" in body and headers["server"] == "Microsoft-IIS/6.0"
    conn = host.https()
    status, headers, body = get(conn, "/")
    assert status == 200 and headers["server"] == "Microsoft-IIS/6.0"
    assert conn.sock.version() in ("TLSv1.2", "TLSv1.3")


def test_client_without_the_lab_root_fails_the_handshake(real_host):
    host = real_host()
    with pytest.raises(ssl.SSLCertVerificationError):
        get(host.https(ssl.create_default_context()), "/")


def test_adsutil_set_accessssl_gives_403_4_without_restart(real_host):
    host = real_host()
    status, _, body = get(host.http(), "/exchange/", ALICE_BASIC)
    assert status != 403 and b"403.4" not in body
    result = host.run_cli("adsutil", "set", "W3SVC/1/ROOT/Exchange/AccessSSLFlags", "8")
    assert result.returncode == 0, result.stderr

    def forbidden():
        status, _, body = get(host.http(), "/exchange/", ALICE_BASIC)
        return status == 403 and b"HTTP Error 403.4" in body

    assert wait_until(forbidden, 10)
    assert wait_until(lambda: any(row["cs-uri-stem"] == "/exchange/" and
                                  (row["sc-status"], row["sc-substatus"]) == ("403", "4") for row in host.w3c()))
    status, _, body = get(host.https(), "/exchange/", ALICE_BASIC)
    assert b"403.4" not in body  # the SSL binding still passes


def test_ntlm_with_demo_user_on_integrated_only_vdir(real_host):
    text = registry_text([("/LM/W3SVC/1/ROOT", "AuthFlags", RegType.REG_DWORD, 4)])
    host = real_host(text)
    conn = host.http()
    status, headers, body = get(conn, "/iisstart.htm")
    assert status == 401
    status, _, body = ntlm_get(conn, "/iisstart.htm", "CONTOSO\\alice", "P@ssw0rd")
    assert status == 200 and b"Under Construction" in body
    status, _, _ = get(conn, "/iisstart.htm")  # the connection stays authenticated, as on IIS
    assert status == 200
    rows = wait_until(lambda: [r for r in host.w3c() if r["cs-uri-stem"] == "/iisstart.htm"][3:] and
                      [r for r in host.w3c() if r["cs-uri-stem"] == "/iisstart.htm"])
    assert [(r["sc-status"], r["sc-substatus"], r["sc-win32-status"]) for r in rows[:3]] == \
        [("401", "2", "5"), ("401", "1", "2148074254"), ("200", "0", "0")]
    assert rows[2]["cs-username"] == "CONTOSO\\alice"


def test_ntlm_negotiate_and_wrong_password(real_host):
    host = real_host(registry_text([("/LM/W3SVC/1/ROOT", "AuthFlags", RegType.REG_DWORD, 4)]))
    status, _, _ = ntlm_get(host.http(), "/iisstart.htm", "alice@contoso.com", "P@ssw0rd", scheme="Negotiate")
    assert status == 200
    status, _, body = ntlm_get(host.http(), "/iisstart.htm", "CONTOSO\\alice", "wrong")
    assert status == 401 and b"401.1" in body
    assert wait_until(lambda: last_row(host).get("sc-win32-status") == "1326")


def test_basic_over_tls_and_server_variables_in_log(real_host):
    host = real_host(registry_text([("/LM/W3SVC/1/ROOT", "AuthFlags", RegType.REG_DWORD, 2)]))
    status, _, _ = get(host.https(), "/iisstart.htm", ALICE_BASIC)
    assert status == 200
    assert wait_until(lambda: last_row(host).get("cs-username") == "CONTOSO\\alice")
    assert last_row(host).get("s-port") == str(host.https_port)


def test_client_certificate_required_negotiated_after_the_request(real_host):
    key = "/LM/W3SVC/1/ROOT"
    host = real_host(registry_text([(key, "AccessSSLFlags", RegType.REG_DWORD, 8 | 32 | 64 | 128),
                                    (key, "AuthFlags", RegType.REG_DWORD, 0)]))
    result = host.run_cli("cert", "issue-client", "alice@contoso.com")
    assert result.returncode == 0, result.stderr
    thumbprint = result.stdout.split()[0]
    cert_dir = host.data / "pki"
    context = host.trust_context()
    context.post_handshake_auth = True
    context.load_cert_chain(next(cert_dir.glob(f"{thumbprint}*.chain.pem")), next(cert_dir.glob(f"{thumbprint}*.key")))
    status, _, body = get(host.https(context), "/iisstart.htm")
    assert status == 200, body
    assert wait_until(lambda: last_row(host).get("cs-username") == "CONTOSO\\alice")
    plain = host.trust_context()
    plain.post_handshake_auth = True
    status, _, body = get(host.https(plain), "/iisstart.htm")
    assert status == 403 and b"403.7" in body


def test_device_that_cannot_renegotiate_loses_the_connection_on_accept(real_host):
    host = real_host(registry_text([("/LM/W3SVC/1/ROOT", "AccessSSLFlags", RegType.REG_DWORD, 8 | 32)]))
    old_device = host.trust_context()
    old_device.post_handshake_auth = False
    try:
        status, _, _ = get(host.https(old_device), "/iisstart.htm")
    except (ConnectionError, ssl.SSLError, OSError):
        status = None
    assert status in (None, 403)
    modern = host.trust_context()
    modern.post_handshake_auth = True
    status, _, _ = get(host.https(modern), "/iisstart.htm")
    assert status == 200  # "accept" with no certificate to offer passes


def test_reload_keeps_last_good_config_and_logs_why(real_host):
    host = real_host()
    text = host.registry.read_text()
    host.registry.write_text(text.replace('"AccessSSLFlags"=dword:00000000', '"AccessSSLFlags"=dword:xyz', 1))

    def warned():
        result = host.run_cli("eventlog", "--source", "EASLab Host", "--level", "warning")
        return "was not applied" in result.stdout

    assert wait_until(warned, 10)
    status, _, _ = get(host.http(), "/")
    assert status == 200
    host.registry.write_text(text.replace('"AccessSSLFlags"=dword:00000000', '"AccessSSLFlags"=dword:00000008', 1))

    def applied():
        return get(host.http(), "/exchange/", ALICE_BASIC)[0] == 403

    assert wait_until(applied, 10)


def test_reload_applies_new_bindings(real_host):
    from realhost import free_port

    host = real_host()
    port = free_port()
    result = host.run_cli("adsutil", "set", "W3SVC/1/ServerBindings", f"127.0.0.1:{host.http_port}:",
                          f"127.0.0.1:{port}:")
    assert result.returncode == 0, result.stderr
    host.wait_for(f"Listening on http://127.0.0.1:{port}/", 10)
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    assert get(conn, "/")[0] == 200


def test_ssl_cert_hash_switches_certificate_without_restart(real_host):
    host = real_host()
    result = host.run_cli("cert", "issue-server", "mail.contoso.com", "--ip", "127.0.0.1")
    thumbprint = result.stdout.split()[0]
    host.run_cli("adsutil", "set", "W3SVC/1/SSLCertHash", thumbprint)

    def served():
        conn = host.https()
        get(conn, "/")
        der = conn.sock.getpeercert(binary_form=True)
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes

        return x509.load_der_x509_certificate(der).fingerprint(hashes.SHA1()).hex().upper() == thumbprint

    assert wait_until(served, 10)


def test_certificate_without_the_intermediate_fails_a_device_that_knows_only_the_root(real_host):
    host = real_host()
    result = host.run_cli("cert", "issue-server", "mail.contoso.com", "--ip", "127.0.0.1", "--no-intermediate")
    assert result.returncode == 0, result.stderr
    host.run_cli("adsutil", "set", "W3SVC/1/SSLCertHash", result.stdout.split()[0])

    def refused():
        try:
            get(host.https(), "/")
        except ssl.SSLCertVerificationError as exc:
            return "unable to get local issuer certificate" in str(exc)
        return False

    assert wait_until(refused, 10)
    host.run_cli("adsutil", "delete", "W3SVC/1/SSLCertHash")
    assert wait_until(lambda: get(host.https(), "/")[0] == 200, 10)
