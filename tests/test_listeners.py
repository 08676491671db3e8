"""Listeners on real sockets: HTTP on waitress, HTTPS on cheroot, client certificates the IIS 6 way."""
from __future__ import annotations

import datetime as dt
import errno
import hashlib
import http.client
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from host.listeners import ConnectionState, Endpoint, Listener, TlsSettings, make_listener
from host.pki import IssuedCert, LabPKI, thumbprint_of
from host.tls import ClientCertificateUnavailable

pytestmark = pytest.mark.realserver
NOW = dt.datetime.now(dt.timezone.utc)


def echo_app(environ: dict, start_response) -> list[bytes]:
    """Echo what the listener put into the environ; /cert asks for a client certificate first."""
    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))  # IIS reads the body before renegotiating
    connection = environ["host.connection"]
    assert isinstance(connection, ConnectionState)
    info: dict = {
        "connection": connection.id,
        "endpoint": environ["host.endpoint"].url(),
        "scheme": environ["wsgi.url_scheme"],
        "path": environ["PATH_INFO"],
        "forwarded_for": environ.get("HTTP_X_FORWARDED_FOR"),
    }
    tls = environ.get("host.tls")
    if tls is not None:
        peer = tls.peer_certificate()
        info.update(
            protocol=tls.protocol,
            cipher=tls.cipher,
            secret_bits=tls.secret_bits,
            server=thumbprint_of(tls.server_certificate),
            peer_before=thumbprint_of(peer) if peer else None,
        )
        if environ["PATH_INFO"] == "/cert":
            timeout = float(parse_qs(environ["QUERY_STRING"]).get("timeout", ["5"])[0])
            try:
                client = tls.request_client_certificate(timeout=timeout)
            except ClientCertificateUnavailable as exc:
                info.update(unavailable=str(exc), usable=exc.connection_usable)
            else:
                info["client"] = thumbprint_of(client) if client else None
    if environ["PATH_INFO"] == "/drop":
        environ["host.drop_connection"] = True  # as the SSL stage does when a device cannot answer
    SEEN.append(info)
    body = json.dumps(info).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


SEEN: list[dict] = []


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LabPKI:
    return LabPKI(tmp_path_factory.mktemp("data") / "pki")


@pytest.fixture(scope="module")
def server_cert(pki: LabPKI) -> IssuedCert:
    return pki.ensure_default_server_cert([], ["127.0.0.1"])


@pytest.fixture(scope="module")
def client_certs(pki: LabPKI) -> dict[str, IssuedCert]:
    return {
        "lab": pki.issue_client("alice@contoso.com"),
        "expired": pki.issue_client("bob@contoso.com", not_after=NOW - dt.timedelta(days=1)),
        "not-yet-valid": pki.issue_client("carol@contoso.com", not_before=NOW + dt.timedelta(days=1)),
        "untrusted-root": pki.issue_client("eve@contoso.com", issuer="untrusted"),
    }


def settings(pki: LabPKI, cert: IssuedCert) -> TlsSettings:
    return TlsSettings(cert_chain_path=cert.chain_path, key_path=cert.key_path, client_ca_pem=pki.client_ca_pem())


def running(listener: Listener) -> Iterator[Listener]:
    listener.start()
    try:
        yield listener
    finally:
        listener.stop()


@pytest.fixture
def http_listener() -> Iterator[Listener]:
    yield from running(make_listener(Endpoint("http", "127.0.0.1", 0), echo_app, threads=2))


@pytest.fixture
def https_listener(pki: LabPKI, server_cert: IssuedCert) -> Iterator[Listener]:
    yield from running(
        make_listener(Endpoint("https", "127.0.0.1", 0), echo_app, tls=settings(pki, server_cert), threads=4)
    )


def device_context(
    pki: LabPKI, cert: IssuedCert | None = None, *, pha: bool = True, tls12: bool = False
) -> ssl.SSLContext:
    """A device that trusts the lab root, optionally with a certificate and post-handshake auth."""
    context = ssl.create_default_context(cadata=pki.trusted_roots_pem().decode())
    context.post_handshake_auth = pha
    if cert is not None:
        context.load_cert_chain(cert.chain_path, cert.key_path)
    if tls12:
        context.maximum_version = ssl.TLSVersion.TLSv1_2
    return context


def get(conn: http.client.HTTPConnection, path: str) -> tuple[http.client.HTTPResponse, dict]:
    conn.request("GET", path)
    response = conn.getresponse()
    return response, json.loads(response.read())


def https(listener: Listener, context: ssl.SSLContext, host: str = "127.0.0.1") -> http.client.HTTPSConnection:
    return http.client.HTTPSConnection(host, listener.endpoint.port, context=context, timeout=10)


def der_thumbprint(conn: http.client.HTTPSConnection) -> str:
    return hashlib.sha1(conn.sock.getpeercert(binary_form=True)).hexdigest().upper()  # noqa: S324


# -- both schemes --------------------------------------------------------------------


def test_http_answers_as_iis_with_endpoint_and_scheme(http_listener: Listener) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", http_listener.endpoint.port, timeout=10)
    conn.request("GET", "/exchange", headers={"X-Forwarded-For": "192.0.2.7"})  # as ISA adds it
    response = conn.getresponse()
    info = json.loads(response.read())
    conn.close()

    assert response.status == 200 and response.getheader("Server") == "Microsoft-IIS/6.0"
    assert info["endpoint"] == f"http://127.0.0.1:{http_listener.endpoint.port}/"
    assert info["scheme"] == "http" and "protocol" not in info
    assert info["forwarded_for"] == "192.0.2.7"


def test_https_answers_as_iis_with_tls_details(
    https_listener: Listener, pki: LabPKI, server_cert: IssuedCert
) -> None:
    conn = https(https_listener, device_context(pki))
    response, info = get(conn, "/Microsoft-Server-ActiveSync")
    conn.close()

    assert response.getheader("Server") == "Microsoft-IIS/6.0"
    assert info["scheme"] == "https" and info["endpoint"] == https_listener.endpoint.url()
    assert info["protocol"] == "TLSv1.3" and info["secret_bits"] >= 128 and info["cipher"]
    assert info["server"] == server_cert.thumbprint


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_keep_alive_requests_share_one_connection_state(
    scheme: str, http_listener: Listener, https_listener: Listener, pki: LabPKI
) -> None:
    def connect() -> http.client.HTTPConnection:
        if scheme == "http":
            return http.client.HTTPConnection("127.0.0.1", http_listener.endpoint.port, timeout=10)
        return https(https_listener, device_context(pki))

    first = connect()
    ids = [get(first, "/a")[1]["connection"], get(first, "/b")[1]["connection"]]
    second = connect()
    other = get(second, "/c")[1]["connection"]
    first.close(), second.close()

    assert ids[0] == ids[1]
    assert other != ids[0]


# -- server certificate trust (PITFALLS §2.9) -------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_device_trusting_the_lab_root_verifies_the_server(
    host: str, https_listener: Listener, pki: LabPKI
) -> None:
    conn = https(https_listener, device_context(pki), host=host)
    response, _ = get(conn, "/")
    conn.close()

    assert response.status == 200


def test_device_without_the_lab_root_fails_the_handshake(https_listener: Listener) -> None:
    bare_device = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # hostname checks on, no trusted roots

    conn = https(https_listener, bare_device)
    with pytest.raises(ssl.SSLCertVerificationError) as failure:
        conn.request("GET", "/")
    conn.close()

    assert "unable to get local issuer certificate" in failure.value.verify_message


def test_update_tls_switches_the_certificate_for_new_connections(
    https_listener: Listener, pki: LabPKI, server_cert: IssuedCert
) -> None:
    renewed = pki.issue_server(["localhost"], ["127.0.0.1"])
    before = https(https_listener, device_context(pki))
    get(before, "/")

    https_listener.update_tls(settings(pki, renewed))
    after = https(https_listener, device_context(pki))
    _, info = get(after, "/")
    _, old_info = get(before, "/")  # the open connection keeps its certificate
    thumbs = der_thumbprint(before), der_thumbprint(after)
    before.close(), after.close()

    assert thumbs == (server_cert.thumbprint, renewed.thumbprint)
    assert info["server"] == renewed.thumbprint and old_info["server"] == server_cert.thumbprint


# -- client certificates (PITFALLS §2.1) --------------------------------------------------


def test_client_certificate_is_asked_for_only_when_the_app_requests_it(
    https_listener: Listener, pki: LabPKI, client_certs: dict[str, IssuedCert]
) -> None:
    conn = https(https_listener, device_context(pki, client_certs["lab"]))
    _, plain = get(conn, "/owa")
    _, asked = get(conn, "/cert")
    _, later = get(conn, "/owa")
    conn.close()

    assert plain["peer_before"] is None  # the initial TLS 1.3 handshake did not request one
    assert asked["client"] == client_certs["lab"].thumbprint
    assert later["peer_before"] == client_certs["lab"].thumbprint  # the connection keeps it
    assert plain["connection"] == asked["connection"] == later["connection"]


@pytest.mark.parametrize("kind", ["expired", "not-yet-valid", "untrusted-root"])
def test_certificates_iis_rejects_with_403_16_or_17_still_reach_the_app(
    kind: str, https_listener: Listener, pki: LabPKI, client_certs: dict[str, IssuedCert]
) -> None:
    conn = https(https_listener, device_context(pki, client_certs[kind]))
    _, info = get(conn, "/cert")
    conn.close()

    assert info["client"] == client_certs[kind].thumbprint


def test_device_without_a_certificate_answers_with_none(https_listener: Listener, pki: LabPKI) -> None:
    conn = https(https_listener, device_context(pki))
    response, info = get(conn, "/cert")
    conn.close()

    assert response.status == 200 and info["client"] is None


def test_device_without_post_handshake_auth_cannot_answer(
    https_listener: Listener, pki: LabPKI, client_certs: dict[str, IssuedCert]
) -> None:
    conn = https(https_listener, device_context(pki, client_certs["lab"], pha=False))
    response, info = get(conn, "/cert")
    conn.close()

    assert "post-handshake" in info["unavailable"] and info["usable"] is True
    assert response.status == 200  # the connection still carries a response


def test_app_can_drop_the_connection_without_a_response(https_listener: Listener, pki: LabPKI) -> None:
    conn = https(https_listener, device_context(pki))
    with pytest.raises((ConnectionError, http.client.HTTPException)):
        get(conn, "/drop")
    conn.close()

    again = https(https_listener, device_context(pki))
    assert get(again, "/")[0].status == 200
    again.close()


def test_certificate_from_a_foreign_ca_breaks_the_connection(
    https_listener: Listener, pki: LabPKI, tmp_path: Path
) -> None:
    foreign = LabPKI(tmp_path / "foreign").issue_client("mallory@fabrikam.com")
    SEEN.clear()

    conn = https(https_listener, device_context(pki, foreign))
    with pytest.raises((ssl.SSLError, ConnectionError, http.client.HTTPException)):
        get(conn, "/cert")
    conn.close()

    deadline = time.monotonic() + 5
    while not SEEN and time.monotonic() < deadline:
        time.sleep(0.02)
    assert SEEN and SEEN[-1]["usable"] is False
    assert "rejected the client certificate" in SEEN[-1]["unavailable"]


def test_pipelined_request_survives_the_certificate_request(
    https_listener: Listener, pki: LabPKI, client_certs: dict[str, IssuedCert]
) -> None:
    context = device_context(pki, client_certs["lab"])
    raw = socket.create_connection(("127.0.0.1", https_listener.endpoint.port), timeout=10)
    with context.wrap_socket(raw, server_hostname="localhost") as tls:
        # Two TLS records: the server reads the first request, then meets the second while it
        # waits for the certificate, and must hand it on to the HTTP layer.
        tls.sendall(b"GET /cert HTTP/1.1\r\nHost: localhost\r\n\r\n")
        tls.sendall(b"GET /after HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        received = b""
        for _ in range(100):
            chunk = tls.recv(65536)
            if not chunk:
                break
            received += chunk

    bodies = [json.loads(part.split(b"\r\n\r\n", 1)[1]) for part in received.split(b"HTTP/1.1 ")[1:]]
    assert [b["path"] for b in bodies] == ["/cert", "/after"]
    assert bodies[0]["client"] == client_certs["lab"].thumbprint


def test_device_that_never_answers_times_out(https_listener: Listener, pki: LabPKI) -> None:
    raw = socket.create_connection(("127.0.0.1", https_listener.endpoint.port), timeout=10)
    with device_context(pki).wrap_socket(raw, server_hostname="localhost") as tls:
        tls.sendall(b"GET /cert?timeout=0.3 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        time.sleep(0.8)  # not reading: the CertificateRequest stays unprocessed
        received = b""
        for _ in range(100):
            chunk = tls.recv(65536)
            if not chunk:
                break
            received += chunk

    info = json.loads(received.split(b"\r\n\r\n", 1)[1])
    assert "in time" in info["unavailable"] and info["usable"] is False


@pytest.mark.parametrize("with_cert", [False, True])
def test_tls12_device_connects_and_is_asked_during_the_handshake(
    with_cert: bool, https_listener: Listener, pki: LabPKI, client_certs: dict[str, IssuedCert]
) -> None:
    cert = client_certs["lab"] if with_cert else None
    conn = https(https_listener, device_context(pki, cert, tls12=True))
    _, plain = get(conn, "/")
    _, asked = get(conn, "/cert")
    conn.close()

    expected = cert.thumbprint if cert else None
    assert plain["protocol"] == "TLSv1.2"
    assert plain["peer_before"] == expected and asked["client"] == expected


# -- lifecycle --------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_stop_frees_the_port_and_leaves_no_threads(scheme: str, pki: LabPKI, server_cert: IssuedCert) -> None:
    before = set(threading.enumerate())
    tls = settings(pki, server_cert) if scheme == "https" else None
    listener = make_listener(Endpoint(scheme, "127.0.0.1", 0), echo_app, tls=tls, threads=3)
    listener.start()
    context = device_context(pki) if scheme == "https" else None
    conn_class = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
    conn = conn_class("127.0.0.1", listener.endpoint.port, timeout=10, **({"context": context} if context else {}))
    get(conn, "/")  # leave the keep-alive connection open across stop()
    listener.stop(timeout=5)
    conn.close()

    deadline = time.monotonic() + 5
    while set(threading.enumerate()) - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not set(threading.enumerate()) - before
    again = make_listener(listener.endpoint, echo_app, tls=tls, threads=1)
    again.start()  # the same IP and port bind again
    again.stop()


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_taken_port_gives_a_clear_error(scheme: str, pki: LabPKI, server_cert: IssuedCert) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen(1)
        port = squatter.getsockname()[1]
        tls = settings(pki, server_cert) if scheme == "https" else None
        listener = make_listener(Endpoint(scheme, "127.0.0.1", port), echo_app, tls=tls, threads=1)

        with pytest.raises(OSError) as failure:
            listener.start()

    assert failure.value.errno == errno.EADDRINUSE
    assert f"127.0.0.1:{port}" in str(failure.value) and "already" in str(failure.value)


def test_endpoint_url_and_listener_choice(pki: LabPKI, server_cert: IssuedCert) -> None:
    assert Endpoint("https", "127.0.0.1", 8443).url() == "https://127.0.0.1:8443/"
    assert Endpoint("http", "::1", 80).url() == "http://[::1]:80/"
    with pytest.raises(ValueError, match="needs TLS"):
        make_listener(Endpoint("https", "127.0.0.1", 0), echo_app)
    with pytest.raises(ValueError, match="no TLS"):
        make_listener(Endpoint("http", "127.0.0.1", 0), echo_app, tls=settings(pki, server_cert))
    with pytest.raises(TypeError):
        make_listener(Endpoint("http", "127.0.0.1", 0), echo_app).update_tls(settings(pki, server_cert))


def _holding_app(release: threading.Event, held: list):
    """``/hold`` waits like a direct-push Ping until released; anything else answers at once."""

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/hold":
            held.append(1)
            release.wait(20)
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]

    return app


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_held_requests_do_not_starve_others_the_pool_grows(scheme, pki, server_cert) -> None:
    release, held = threading.Event(), []
    tls = settings(pki, server_cert) if scheme == "https" else None
    listener = make_listener(Endpoint(scheme, "127.0.0.1", 0), _holding_app(release, held), tls=tls,
                             threads=1, max_threads=8)

    def connect() -> http.client.HTTPConnection:
        if scheme == "https":
            return https(listener, device_context(pki))
        return http.client.HTTPConnection("127.0.0.1", listener.endpoint.port, timeout=10)

    with contextmanager(running)(listener):
        holders = [connect() for _ in range(5)]
        for conn in holders:
            conn.request("GET", "/hold")
        deadline = time.monotonic() + 10
        while len(held) < 5 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(held) == 5  # five requests held at once on a pool that started with one worker
        began = time.monotonic()
        conn = connect()
        conn.request("GET", "/now")
        assert conn.getresponse().read() == b"ok" and time.monotonic() - began < 3
        release.set()
        for holder in holders:
            assert holder.getresponse().read() == b"ok"


def test_http_keeps_header_names_as_the_app_spells_them() -> None:
    def app(environ, start_response):
        start_response("200 OK", [("MS-ASProtocolVersions", "2.5"), ("X-MS-PolicyKey", "1"), ("Content-Length", "0")])
        return [b""]

    with contextmanager(running)(make_listener(Endpoint("http", "127.0.0.1", 0), app)) as listener:
        with socket.create_connection(("127.0.0.1", listener.endpoint.port), timeout=10) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 65536:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                head += chunk
    assert b"\r\nMS-ASProtocolVersions: 2.5\r\n" in head and b"\r\nX-MS-PolicyKey: 1\r\n" in head
    assert b"\r\nServer: Microsoft-IIS/6.0\r\n" in head


@pytest.mark.parametrize("status", ["204 No Content", "304 Not Modified"])
def test_http_keeps_the_connection_open_after_an_answer_without_body(status: str) -> None:
    """A 204 ends at its headers: the next request (an NTLM client's, logged on) uses the same connection."""
    def app(environ, start_response):
        start_response(status if environ["PATH_INFO"] == "/first" else "200 OK", [])
        return [b"" if environ["PATH_INFO"] == "/first" else environ["host.connection"].__class__.__name__.encode()]

    with contextmanager(running)(make_listener(Endpoint("http", "127.0.0.1", 0), app)) as listener:
        conn = http.client.HTTPConnection("127.0.0.1", listener.endpoint.port, timeout=10)
        try:
            conn.request("DELETE", "/first")
            first = conn.getresponse()
            first.read()
            socket_after_first = conn.sock
            assert first.status == int(status[:3]) and first.getheader("Connection") is None
            conn.request("GET", "/second")
            second = conn.getresponse()
            assert second.status == 200 and second.read() == b"ConnectionState"
            assert conn.sock is socket_after_first  # not reconnected
        finally:
            conn.close()
