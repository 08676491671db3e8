"""HTTP authentication a device can offer: Basic, or NTLM/Negotiate.

Client-certificate authentication is not here: it lives in the TLS layer
(``TlsSettings.client_cert``), and MS-ASHTTP 2.2.1.1.2.2 says a device using
it MUST NOT send an Authorization header, so such a device has ``auth=None``.

Basic is sent with every request, as devices do. NTLM authenticates the TCP
connection (MS-NLMP), so ``connection.Connection`` runs the handshake once per
connection and keeps that connection alive.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass, field

import spnego


@dataclass(frozen=True)
class BasicAuth:
    """``user`` is ``DOMAIN\\user`` or a UPN, exactly as the device's user typed it."""

    user: str
    password: str = field(repr=False)

    def header(self) -> str:
        """MS-ASHTTP 2.2.1.1.2.2: base64 of ``user:password``."""
        return "Basic " + base64.b64encode(f"{self.user}:{self.password}".encode()).decode("ascii")


@dataclass(frozen=True)
class NtlmAuth:
    """NTLM (``scheme="NTLM"``) or NTLM inside SPNEGO (``scheme="Negotiate"``)."""

    user: str
    password: str = field(repr=False)
    scheme: str = "NTLM"

    def __post_init__(self) -> None:
        if self.scheme not in ("NTLM", "Negotiate"):
            raise ValueError(f"NTLM scheme must be 'NTLM' or 'Negotiate', not {self.scheme!r}")

    def start(self, host: str) -> spnego.ContextProxy:
        """A fresh initiator for one connection's handshake."""
        protocol = "ntlm" if self.scheme == "NTLM" else "negotiate"
        return spnego.client(self.user, self.password, hostname=host, service="HTTP", protocol=protocol)


Auth = BasicAuth | NtlmAuth
