"""Fixtures for MASSYNC tests: a host per persona with a mailbox store, and a seeded mailbox."""
from __future__ import annotations

import socket
import time
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage

import pytest

from host.regfile import RegType
from host.service import WebService
from host.testing import make_test_host, registry_text
from host.w3clog import parse_w3c
from plugins.activesync.plugin import EXCHANGE_SETUP, push_hub
from plugins.activesync.policy import DEVICE_SECURITY
from plugins.owa.mailboxes import ensure_mailbox
from .easclient import EasClient, HttpWire, WebTestWire

SZ, DWORD = RegType.REG_SZ, RegType.REG_DWORD
PERSONA_VERSIONS = {
    "Exchange 2003 SP2": "2.5",
    "Exchange 2007 SP1": "12.1",
    "Exchange 2010 SP1": "14.1",
    "Exchange 2016": "16.1",
}


def persona_value(persona: str) -> tuple:
    return (EXCHANGE_SETUP, "EmulatedVersion", SZ, persona)


def policy_value(name: str, value: int) -> tuple:
    return (DEVICE_SECURITY, name, DWORD, value)


def w3c_rows(service) -> list[dict[str, str]]:
    """Every line of the default site's W3C logs, oldest first, once the log has settled.

    As on IIS, a request's line is written after its answer was sent: the
    /exchange hop's lines can land just after MASSYNC answered the device, so
    the log is read until two readings 0.1 s apart agree (at most 3 s).
    """
    folder = service.data_dir / "LogFiles" / "W3SVC1"
    previous = None
    for _ in range(30):
        text = "".join(path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.log")))
        if text == previous:
            break
        previous = text
        time.sleep(0.1)
    return parse_w3c(previous or "")


def message(subject: str, body: str = "Hello from the lab.", *, sender: str = "bob@contoso.com",
            to: str = "alice@contoso.com", html: str | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Date"] = "Thu, 26 Nov 2026 10:00:00 +0000"
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return msg.as_bytes()


class Lab:
    """One host and helpers to seed alice's mailbox."""

    def __init__(self, service, app=None, port: int | None = None) -> None:
        self.service, self.app, self.port = service, app, port
        self.user = service.directory.find("alice")
        self.mailbox = ensure_mailbox(service, self.user)

    @property
    def store(self):
        return self.service.mailstore

    def folder(self, folder_type):
        return self.store.default_folder(self.mailbox, folder_type)

    def deliver(self, subject: str, *, days_ago: float = 0, **kwargs) -> int:
        received = datetime.now(timezone.utc) - timedelta(days=days_ago)
        return self.store.deliver(self.mailbox, message(subject, **kwargs), date_received=received).id

    def seed(self, count: int) -> None:
        from plugins.owa.mailbox import FolderType, NewItem

        inbox = self.folder(FolderType.INBOX).id
        base = datetime.now(timezone.utc) - timedelta(hours=count)
        self.store.add_items(self.mailbox, inbox, [
            NewItem.from_mime(message(f"Seeded {n}"), date_received=base + timedelta(hours=n)) for n in range(count)])

    def client(self, **kwargs) -> EasClient:
        wire = WebTestWire(self.app) if self.app is not None else HttpWire("127.0.0.1", self.port)
        return EasClient(wire, **kwargs)


def live_values(http_port: int) -> list[tuple]:
    """Loopback bindings on free ports for every listener a started host opens (no HTTPS)."""
    from plugins.labdns.zones import DNS_PARAMETERS

    return [("/LM/W3SVC/1", "ServerBindings", RegType.REG_MULTI_SZ, [f"127.0.0.1:{http_port}:"]),
            ("/LM/W3SVC/1", "SecureBindings", RegType.REG_MULTI_SZ, []),
            ("/LM/SMTPSVC/1", "ServerBindings", RegType.REG_MULTI_SZ, [f"127.0.0.1:{free_port()}:"]),
            (DNS_PARAMETERS, "ListenAddress", SZ, f"127.0.0.253:{free_port()}")]


@pytest.fixture
def eas_lab(tmp_path):
    """``eas_lab(persona, *values) -> Lab``; hosts stop after the test.

    The device's requests run in-process (WebTest). In the Exchange 2003
    persona MASSYNC reaches the mailbox over real HTTP, so that host also
    listens, on a free loopback port, and the WebTest requests arrive "on"
    that binding.
    """
    from plugins.activesync.personas import PERSONAS

    made = []

    def make(persona: str = "Exchange 2016", *values: tuple) -> Lab:
        if not PERSONAS[persona].mailbox_via_exchange_vdir:
            service, app = make_test_host(tmp_path / f"host{len(made)}", set_values=[persona_value(persona), *values])
            made.append(service)
            return Lab(service, app)
        port = free_port()
        service, app = make_test_host(tmp_path / f"host{len(made)}", port=port,
                                      set_values=[persona_value(persona), *live_values(port), *values])
        made.append(service)
        service.start()
        return Lab(service, app)

    yield make
    for service in made:
        push_hub(service).shutdown()
        service.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def real_eas(tmp_path):
    """``real_eas(persona, *values) -> Lab`` on a real HTTP listener (127.0.0.1, a free port)."""
    made = []

    def make(persona: str = "Exchange 2016", *values: tuple) -> Lab:
        folder = tmp_path / f"real{len(made)}"
        folder.mkdir()
        text = registry_text([persona_value(persona), *live_values(free_port()), *values])
        (folder / "registry.ini").write_text(text, encoding="utf-8")
        service = WebService(folder / "registry.ini", folder / "data", announce=lambda line: None, threads=8)
        made.append(service)
        service.start()
        [endpoint] = service.endpoints
        return Lab(service, port=endpoint.port)

    yield make
    for service in made:
        push_hub(service).shutdown()
        service.stop()


def run_cli(lab: Lab, *args: str) -> int:
    from host.cli import main

    return main(["--registry", str(lab.service.registry_path), "--data", str(lab.service.data_dir), *args])
