"""Test doubles and fixtures for the device tests: a tiny EAS server, a throwaway PKI.

There is no conftest.py here on purpose: a second top-level ``conftest``
module would shadow tests/conftest.py, which other test modules import by
name. (The folder is not called ``device``: on sys.path that name would
shadow the real package.) Test modules import the fixtures from here.

The fake server is stdlib ``http.server`` speaking HTTP/1.1, not WSGI: one
handler object lives as long as its TCP connection, which is exactly where
NTLM keeps its state, and the listening socket can be wrapped in real TLS.
It answers canned WBXML and records every request for assertions.
"""
from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import ssl
import struct
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
import spnego
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from lxml import etree

from plugins.activesync.wbxml import decode, encode

WBXML = "application/vnd.ms-sync.wbxml"
# MS-ASHTTP 2.2.1.1.1.1.2, kept apart from the client's table so a typo there shows.
COMMANDS_BY_CODE = {0: "Sync", 1: "SendMail", 9: "FolderSync", 10: "FolderCreate", 11: "FolderDelete",
                    13: "MoveItems", 14: "GetItemEstimate", 15: "MeetingResponse", 16: "Search",
                    17: "Settings", 18: "Ping", 19: "ItemOperations", 20: "Provision", 21: "ResolveRecipients"}

Reply = tuple[int, dict[str, str], bytes]


def wbxml(root: etree._Element, status: int = 200, **headers: str) -> Reply:
    return status, {"Content-Type": WBXML, **headers}, encode(root)


def empty(status: int = 200, **headers: str) -> Reply:
    return status, dict(headers), b""


def outline(root: etree._Element) -> str:
    """Element order, namespaces and text, one element a line; opaque shows as bytes."""
    lines = []

    def walk(el: etree._Element, depth: int) -> None:
        qname = etree.QName(el)
        value = f" = {el.text}" if el.text and not len(el) else ""
        if el.get("{urn:easlab:wbxml}opaque") == "base64":
            value = f" = {base64.b64decode(el.text or '')!r}"
        lines.append(f"{'  ' * depth}{qname.namespace}:{qname.localname}{value}")
        for child in el:
            walk(child, depth + 1)

    walk(root, 0)
    return "\n".join(lines)


@dataclass
class Recorded:
    """One request as the server saw it."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    connection: int
    command: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    base64: dict | None = None
    client_certificate: dict | None = None

    @property
    def xml(self) -> etree._Element | None:
        return decode(self.body) if self.body and self.headers.get("content-type", "").startswith(WBXML) else None


def parse_base64_query(query: str) -> dict:
    """Read the MS-ASHTTP 2.2.1.1.1.1 byte layout back, independently of the client."""
    raw = base64.b64decode(query)
    pos = 4
    version, code = raw[0], raw[1]
    (locale,) = struct.unpack_from("<H", raw, 2)
    fields = []
    for _ in range(3):
        length = raw[pos]
        fields.append(raw[pos + 1:pos + 1 + length])
        pos += 1 + length
    params = {}
    while pos < len(raw):
        tag, length = raw[pos], raw[pos + 1]
        params[tag] = raw[pos + 2:pos + 2 + length]
        pos += 2 + length
    policy = struct.unpack("<I", fields[1])[0] if fields[1] else None
    return {"version": version, "command": COMMANDS_BY_CODE.get(code, code), "locale": locale,
            "device_id": fields[0].decode(), "policy_key": policy, "device_type": fields[2].decode(),
            "params": params}


class FakeEasServer:
    """``routes[command] = handler(Recorded) -> Reply``; ``auth`` is None, "basic" or "ntlm"."""

    def __init__(self, *, tls: ssl.SSLContext | None = None, auth: str | None = None,
                 basic_credentials: tuple[str, str] | None = None) -> None:
        self.tls = tls
        self.auth = auth
        self.basic_credentials = basic_credentials
        self.routes: dict[str, Callable[[Recorded], Reply]] = {}
        self.requests: list[Recorded] = []
        self.auth_legs: list[Recorded] = []
        self.ntlm_users: list[str] = []
        self.options_headers = {"MS-ASProtocolVersions": "2.5,12.0,12.1,14.0,14.1",
                                "MS-ASProtocolCommands": "Sync,FolderSync,Provision,Ping",
                                "MS-Server-ActiveSync": "14.3"}
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def on(self, command: str, *replies: Reply | Callable[[Recorded], Reply]) -> None:
        """Answer ``command`` with these replies in turn; the last one repeats."""
        queue = list(replies)

        def handler(request: Recorded) -> Reply:
            item = queue.pop(0) if len(queue) > 1 else queue[0]
            return item(request) if callable(item) else item

        self.routes[command] = handler

    def commands(self) -> list[str | None]:
        return [r.command for r in self.requests]

    @property
    def port(self) -> int:
        assert self._httpd is not None
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/Microsoft-Server-ActiveSync"

    def __enter__(self) -> FakeEasServer:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.fake = self  # type: ignore[attr-defined]
        if self.tls is not None:
            self._httpd.socket = self.tls.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._httpd is not None and self._thread is not None
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def answer(self, request: Recorded) -> Reply:
        if request.method == "OPTIONS":
            return 200, dict(self.options_headers), b""
        handler = self.routes.get(request.command or "")
        if handler is None:
            return 500, {"Content-Type": "text/plain"}, f"no route for {request.command}".encode()
        return handler(request)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10  # an idle keep-alive connection ends the handler thread

    def setup(self) -> None:
        super().setup()
        self.ntlm: spnego.ContextProxy | None = None
        self.ntlm_user: str | None = None

    def log_message(self, *args: object) -> None:
        pass

    def do_OPTIONS(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        fake: FakeEasServer = self.server.fake  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = urlsplit(self.path)
        request = Recorded(self.command, parts.path, parts.query, {k.lower(): v for k, v in self.headers.items()},
                           body, id(self))
        if isinstance(self.connection, ssl.SSLSocket):
            request.client_certificate = self.connection.getpeercert() or None
        if parts.query.startswith("Cmd="):
            request.params = dict(parse_qsl(parts.query))
            request.command = request.params.get("Cmd")
        elif parts.query:
            request.base64 = parse_base64_query(parts.query)
            request.command = request.base64["command"]
        denied = self._authenticate(fake, request)
        if denied is not None:
            fake.auth_legs.append(request)
            self._send(*denied)
            return
        fake.requests.append(request)
        self._send(*fake.answer(request))

    def _authenticate(self, fake: FakeEasServer, request: Recorded) -> Reply | None:
        header = request.headers.get("authorization", "")
        if fake.auth == "basic":
            user, password = fake.basic_credentials or ("", "")
            expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
            return None if header == expected else empty(401, **{"WWW-Authenticate": 'Basic realm="lab"'})
        if fake.auth == "ntlm" and self.ntlm_user is None:
            scheme, _, token = header.partition(" ")
            if scheme != "NTLM" or not token:
                return empty(401, **{"WWW-Authenticate": "NTLM"})
            raw = base64.b64decode(token)
            if self.ntlm is None or raw.startswith(b"NTLMSSP\x00\x01"):
                self.ntlm = spnego.server(protocol="ntlm")
            try:
                reply = self.ntlm.step(raw)
            except spnego.exceptions.SpnegoError:
                self.ntlm = None
                return empty(401, **{"WWW-Authenticate": "NTLM"})
            if not self.ntlm.complete:
                return empty(401, **{"WWW-Authenticate": f"NTLM {base64.b64encode(reply).decode()}"})
            self.ntlm_user = self.ntlm.client_principal
            fake.ntlm_users.append(self.ntlm_user)
        return None

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


# ---------------------------------------------------------------- PKI


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


@dataclass
class Issued:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    def write(self, folder: Path, stem: str) -> tuple[Path, Path]:
        """PEM certificate and unencrypted PEM key; returns (cert path, key path)."""
        cert_path, key_path = folder / f"{stem}.pem", folder / f"{stem}.key"
        cert_path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(self.key.private_bytes(serialization.Encoding.PEM,
                                                    serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()))
        return cert_path, key_path


def make_ca(cn: str) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return Issued(key, cert)


def issue(ca: Issued, cn: str, *, dns: Iterable[str] = (), ips: Iterable[str] = (), expired: bool = False,
          client: bool = False) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    start, end = (now - dt.timedelta(days=60), now - dt.timedelta(days=30)) if expired else \
        (now - dt.timedelta(days=1), now + dt.timedelta(days=30))
    names = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    builder = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(ca.cert.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(end)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH if client
                                                     else ExtendedKeyUsageOID.SERVER_AUTH]), critical=False))
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return Issued(key, builder.sign(ca.key, hashes.SHA256()))


# ---------------------------------------------------------------- canned answers

def el(tag: str, text: str | None = None, *children: etree._Element) -> etree._Element:
    from plugins.activesync.wbxml import element

    return element(tag, text, *children)


def folder_sync_reply(sync_key: str, *folders: tuple[str, str, str, int], status: int = 1) -> Reply:
    """``folders`` are (ServerId, ParentId, DisplayName, Type) additions."""
    adds = [el("FolderHierarchy:Add", None, el("FolderHierarchy:ServerId", sid), el("FolderHierarchy:ParentId", pid),
               el("FolderHierarchy:DisplayName", name), el("FolderHierarchy:Type", str(kind)))
            for sid, pid, name, kind in folders]
    return wbxml(el("FolderHierarchy:FolderSync", None, el("FolderHierarchy:Status", str(status)),
                    el("FolderHierarchy:SyncKey", sync_key),
                    el("FolderHierarchy:Changes", None, el("FolderHierarchy:Count", str(len(adds))), *adds)))


STANDARD_FOLDERS = (("1", "0", "Inbox", 2), ("2", "0", "Sent Items", 5), ("3", "0", "Calendar", 8),
                    ("4", "0", "Contacts", 9))


def provision_offer(temporary_key: str, policy_type: str = "MS-EAS-Provisioning-WBXML") -> Reply:
    data = el("Provision:Data", None, el("Provision:EASProvisionDoc", None,
                                         el("Provision:DevicePasswordEnabled", "1"),
                                         el("Provision:MinDevicePasswordLength", "4")))
    if policy_type == "MS-WAP-Provisioning-XML":
        data = el("Provision:Data", "<wap-provisioningdoc><characteristic type=\"SecurityPolicy\"/></wap-provisioningdoc>")
    return wbxml(el("Provision:Provision", None, el("Provision:Status", "1"), el("Provision:Policies", None, el(
        "Provision:Policy", None, el("Provision:PolicyType", policy_type), el("Provision:Status", "1"),
        el("Provision:PolicyKey", temporary_key), data))))


def provision_final(final_key: str, policy_type: str = "MS-EAS-Provisioning-WBXML") -> Reply:
    return wbxml(el("Provision:Provision", None, el("Provision:Status", "1"), el("Provision:Policies", None, el(
        "Provision:Policy", None, el("Provision:PolicyType", policy_type), el("Provision:Status", "1"),
        el("Provision:PolicyKey", final_key)))))


def email(server_id: str, subject: str) -> etree._Element:
    return el("AirSync:Add", None, el("AirSync:ServerId", server_id),
              el("AirSync:ApplicationData", None, el("Email:Subject", subject)))


def sync_reply(collection_id: str, sync_key: str, *commands: etree._Element, more: bool = False,
               status: int = 1, responses: Iterable[etree._Element] = ()) -> Reply:
    parts = [el("AirSync:SyncKey", sync_key), el("AirSync:CollectionId", collection_id),
             el("AirSync:Status", str(status))]
    if commands:
        parts.append(el("AirSync:Commands", None, *commands))
    responses = list(responses)
    if responses:
        parts.append(el("AirSync:Responses", None, *responses))
    if more:
        parts.append(el("AirSync:MoreAvailable"))
    return wbxml(el("AirSync:Sync", None, el("AirSync:Collections", None, el("AirSync:Collection", None, *parts))))


# ---------------------------------------------------------------- fixtures


@pytest.fixture
def fake() -> Iterator[FakeEasServer]:
    with FakeEasServer() as server:
        yield server


@pytest.fixture
def open_session() -> Iterator[Callable[..., object]]:
    """``open_session(url, version="14.1", auth=None, **options)`` -> DeviceSession, closed after the test."""
    from device import DeviceSession, DeviceState

    opened: list[DeviceSession] = []

    def make(url: str, version: str | None = "14.1", auth=None, *, user: str = "CONTOSO\\alice",
             device_id: str = "v140Device", device_type: str = "SmartPhone", **options) -> DeviceSession:
        state = DeviceState.new(url, user, device_id=device_id, device_type=device_type, user_agent="ASOM")
        session = DeviceSession(state, auth, protocol_version=version, **options)
        opened.append(session)
        return session

    yield make
    for session in opened:
        session.close()
