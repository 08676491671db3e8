"""/exchange over a real socket with a real NTLM handshake, as MASSYNC's hop reaches it.

The host runs in this process on a free loopback port with Integrated
authentication only on /Exchange (AuthFlags 4); the client is pyspnego's
NTLM initiator on one keep-alive connection, which is how IIS keeps NTLM.
"""
from __future__ import annotations

import base64
import http.client
import socket
import time
from importlib import metadata
from urllib.parse import quote

import pytest
import spnego
from lxml import etree

from host.plugins import ENTRY_POINT_GROUP, make_plugin_manager
from host.regfile import RegType
from host.service import WebService
from host.testing import registry_text
from host.w3clog import parse_w3c
from plugins.owa import davex, storeplugin
from plugins.owa.mailboxes import ensure_mailbox

pytestmark = pytest.mark.realserver
DWORD, MULTI = RegType.REG_DWORD, RegType.REG_MULTI_SZ
PROPFIND_SUBJECTS = (b'<?xml version="1.0"?><a:propfind xmlns:a="DAV:" xmlns:d="urn:schemas:httpmail:">'
                     b"<a:prop><a:displayname/><d:subject/></a:prop></a:propfind>")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def mailbox_server(tmp_path):
    port = free_port()
    text = registry_text([("/LM/W3SVC/1", "ServerBindings", MULTI, [f"127.0.0.1:{port}:"]),
                          ("/LM/W3SVC/1", "SecureBindings", MULTI, []),
                          ("/LM/W3SVC/1/ROOT/Exchange", "AuthFlags", DWORD, 4)])
    (tmp_path / "registry.ini").write_text(text, encoding="utf-8")
    host = [ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.value.startswith("host.")]
    service = WebService(tmp_path / "registry.ini", tmp_path / "data", announce=lambda line: None, threads=4,
                         pm=make_plugin_manager(only=host, extra=[storeplugin, davex]))
    service.start()
    try:
        yield service, port
    finally:
        service.stop()


def request(conn: http.client.HTTPConnection, method: str, path: str, body: bytes = b"",
            headers: dict | None = None) -> tuple[int, dict, bytes]:
    conn.request(method, path, body=body, headers={"Content-Type": "text/xml", **(headers or {})})
    response = conn.getresponse()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


def ntlm(conn: http.client.HTTPConnection, method: str, path: str, body: bytes = b"", **headers):
    """Anonymous first (as a client that does not know the scheme yet), then the two NTLM legs."""
    status, answer, _ = request(conn, method, path, body, headers)
    assert status == 401 and "NTLM" in answer.get("www-authenticate", "")
    client = spnego.client("CONTOSO\\alice", "P@ssw0rd", protocol="ntlm")
    status, answer, _ = request(conn, method, path, body,
                                {**headers, "Authorization": "NTLM " + base64.b64encode(client.step()).decode()})
    assert status == 401
    challenge = base64.b64decode(answer["www-authenticate"].split(" ", 1)[1])
    token = base64.b64encode(client.step(challenge)).decode()
    return request(conn, method, path, body, {**headers, "Authorization": f"NTLM {token}"})


def w3c_rows(service: WebService, stem: str, count: int) -> list[dict[str, str]]:
    """The W3C lines for ``stem``, once ``count`` of them are written (bounded wait)."""
    rows: list[dict[str, str]] = []
    for _ in range(50):
        rows = [row for path in sorted((service.data_dir / "LogFiles" / "W3SVC1").glob("*.log"))
                for row in parse_w3c(path.read_text(encoding="utf-8")) if row["cs-uri-stem"] == stem]
        if len(rows) >= count:
            break
        time.sleep(0.1)
    return rows


def test_propfind_of_the_inbox_with_ntlm_as_alice(mailbox_server):
    service, port = mailbox_server
    store = service.mailstore
    alice = ensure_mailbox(service, service.directory.find("CONTOSO\\alice"))
    store.deliver(alice, b"From: bob@contoso.com\r\nTo: alice@contoso.com\r\nSubject: Over the wire\r\n\r\nHi\r\n")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        status, _, body = ntlm(conn, "PROPFIND", "/exchange/alice/Inbox/", PROPFIND_SUBJECTS, Depth="1")
    finally:
        conn.close()
    assert status == 207
    subjects = etree.fromstring(body).xpath("//d:subject/text()", namespaces={"d": "urn:schemas:httpmail:"})
    assert "Over the wire" in subjects  # beside the demo mail the first start put there
    rows = w3c_rows(service, "/exchange/alice/Inbox/", 3)
    assert [(r["cs-method"], r["sc-status"], r["sc-substatus"]) for r in rows] == [
        ("PROPFIND", "401", "2"), ("PROPFIND", "401", "1"), ("PROPFIND", "207", "0")]
    assert rows[2]["sc-win32-status"] == "0" and rows[2]["cs-username"] == "CONTOSO\\alice"


def test_a_folder_named_with_umlauts_over_real_http(mailbox_server):
    service, port = mailbox_server
    path = "/exchange/alice/Inbox/" + quote("Geschäftlich") + "/"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        status, _, _ = ntlm(conn, "MKCOL", path)
        assert status == 201
        status, _, body = request(conn, "PROPFIND", path, PROPFIND_SUBJECTS, {"Depth": "0"})
    finally:
        conn.close()
    assert status == 207
    tree = etree.fromstring(body)
    assert tree.findtext("{DAV:}response/{DAV:}href") == path
    assert tree.xpath("//a:displayname/text()", namespaces={"a": "DAV:"}) == ["Geschäftlich"]
