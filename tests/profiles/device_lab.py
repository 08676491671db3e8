"""Real hosts for the device-profile and analyzer tests, with the ``device`` and ``analyze`` commands.

The host and its CLI run as ``python -m host`` subprocesses (``RealHost``).
"""
from __future__ import annotations

import hashlib
import socket
import ssl
import subprocess
from pathlib import Path

from host.regfile import RegType
from host.testing import registry_text
from plugins.activesync.plugin import EXCHANGE_SETUP, MASSYNC_PARAMETERS
from tests.realhost import RealHost, wait_until

EAS = "/LM/W3SVC/1/ROOT/Microsoft-Server-ActiveSync"
SITE = "/LM/W3SVC/1"
URL = "https://mail.contoso.com/Microsoft-Server-ActiveSync"
USER, PASSWORD, EMAIL = "CONTOSO\\alice", "P@ssw0rd", "alice@contoso.com"
DWORD, SZ = RegType.REG_DWORD, RegType.REG_SZ
# Pings end after a second instead of a minute (the heartbeat bound is a registry value).
SHORT_HEARTBEAT = (MASSYNC_PARAMETERS, "MinHeartbeatInterval", DWORD, 1)


def persona(name: str) -> tuple:
    return (EXCHANGE_SETUP, "EmulatedVersion", SZ, name)


class DeviceLab:
    """A started host plus helpers to run ``device`` and ``analyze`` against it."""

    def __init__(self, folder: Path, values=(), *, extra: str = "", edit=None) -> None:
        text = registry_text([SHORT_HEARTBEAT, *values]) + extra
        self.host = RealHost(folder, edit(text) if edit else text)

    def start(self) -> DeviceLab:
        self.host.start()
        return self

    def stop(self) -> None:
        self.host.stop()

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return self.host.run_cli(*args)

    def issue(self, *args: str) -> str:
        """``cert issue-server ARGS``; the new certificate's thumbprint."""
        result = self.cli("cert", "issue-server", *args)
        assert result.returncode == 0, result.stderr
        return result.stdout.split()[0]

    def trust(self, profile: str) -> None:
        """The trainee's AddRootCert: the lab root into the device's store."""
        result = self.cli("device", "trust", profile, str(self.host.root_ca()))
        assert result.returncode == 0, result.stdout + result.stderr

    def device(self, profile: str, *args: str, password: str = PASSWORD) -> subprocess.CompletedProcess:
        where = () if any(a in ("--url", "--email") for a in args) else ("--url", URL)
        return self.cli("device", "run", profile, "--user", USER, "--password", password, *where,
                        "--heartbeat", "1", *args)

    def analyze(self, *args: str) -> subprocess.CompletedProcess:
        return self.cli("analyze", "activesync", "--email", EMAIL, "--user", USER, "--password", PASSWORD, *args)

    def served_thumbprint(self) -> str:
        """SHA-1 of the certificate the SSL binding presents now."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        with socket.create_connection(("127.0.0.1", self.host.https_port), 10) as sock:
            with context.wrap_socket(sock, server_hostname="mail.contoso.com") as tls:
                return hashlib.sha1(tls.getpeercert(binary_form=True)).hexdigest().upper()  # noqa: S324

    def use_certificate(self, thumbprint: str) -> None:
        """``adsutil set W3SVC/1/SSLCertHash``, then wait (bounded) until the host serves it."""
        result = self.cli("adsutil", "set", "W3SVC/1/SSLCertHash", thumbprint)
        assert result.returncode == 0, result.stderr
        assert wait_until(lambda: self.served_thumbprint() == thumbprint, timeout=20), \
            "the host did not switch to the new certificate"
