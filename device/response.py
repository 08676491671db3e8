"""What one EAS request produced: the request as sent and the response as received.

Nothing is hidden: HTTP status and headers, the raw body, the decoded WBXML,
the EAS Status, timing and the TLS facts. Tests and the connectivity
analyzer read the same object.
"""
from __future__ import annotations

import http.client
import struct
from dataclasses import dataclass, field

from lxml import etree

from plugins.activesync.wbxml import WbxmlError, decode

from .errors import ProtocolError
from .tls import TlsInfo
from .versions import parse_version_list

WBXML = "application/vnd.ms-sync.wbxml"
MULTIPART = "application/vnd.ms-sync.multipart"


@dataclass(frozen=True)
class SentRequest:
    """The request line, headers and body exactly as handed to the connection."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes

    def xml(self) -> etree._Element | None:
        """The WBXML body decoded, for assertions and logs."""
        if self.headers.get("Content-Type", "").startswith("application/vnd.ms-sync") and self.body:
            return decode(self.body)
        return None


@dataclass
class EasResponse:
    """One HTTP exchange of one command (``command`` is None for OPTIONS)."""

    command: str | None
    request: SentRequest
    http_status: int
    reason: str
    headers: http.client.HTTPMessage
    body: bytes
    xml: etree._Element | None
    elapsed: float
    tls: TlsInfo | None = None
    auth_legs: int = 0
    compressed: bool = False
    parts: list[bytes] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return 200 <= self.http_status < 300

    @property
    def root_status(self) -> int | None:
        """The command-level Status: a Status child of the root element."""
        if self.xml is None:
            return None
        ns = etree.QName(self.xml).namespace
        return _int(self.xml.find(f"{{{ns}}}Status"))

    @property
    def status(self) -> int | None:
        """The first Status of the command's namespace in document order.

        That is the command-level Status when there is one, else the first
        per-collection or per-item Status (Sync, GetItemEstimate, MoveItems).
        """
        if self.xml is None:
            return None
        ns = etree.QName(self.xml).namespace
        return _int(next(self.xml.iter(f"{{{ns}}}Status"), None))

    @property
    def protocol_versions(self) -> list[str]:
        return parse_version_list(self.headers.get("MS-ASProtocolVersions"))

    @property
    def protocol_commands(self) -> list[str]:
        return [c.strip() for c in (self.headers.get("MS-ASProtocolCommands") or "").split(",") if c.strip()]

    @property
    def server_version(self) -> str | None:
        """MS-Server-ActiveSync: the server build, e.g. 6.5.7638.1 for Exchange 2003 SP2."""
        return self.headers.get("MS-Server-ActiveSync")

    def to_xml(self) -> str:
        return etree.tostring(self.xml, pretty_print=True, encoding="unicode") if self.xml is not None else ""


def decode_body(command: str | None, content_type: str, body: bytes) -> tuple[etree._Element | None, list[bytes]]:
    """Decode a WBXML or multipart body; other bodies (HTML error pages, MIME) stay raw."""
    kind = content_type.split(";")[0].strip().lower()
    parts: list[bytes] = []
    if kind == MULTIPART:
        parts = split_multipart(body)
        body = parts[0] if parts else b""
    elif kind != WBXML:
        return None, parts
    if not body:
        return None, parts
    try:
        return decode(body), parts
    except WbxmlError as exc:
        raise ProtocolError(f"{command}: response body is not valid WBXML: {exc}") from exc


def split_multipart(body: bytes) -> list[bytes]:
    """MS-ASCMD 2.2.1.10.1.1: part count, (offset, length) pairs, then the parts.

    All are 32-bit little-endian integers (the spec's example in 4.10.5.2
    reads ``14000000`` as 20); offsets count from the start of the body. Part 0 is the WBXML; the others are referenced by
    ``ItemOperations:Part``.
    """
    try:
        (count,) = struct.unpack_from("<i", body, 0)
        if not 0 <= count <= (len(body) - 4) // 8:
            raise ProtocolError(f"multipart body claims {count} parts in {len(body)} bytes")
        parts = []
        for index in range(count):
            offset, length = struct.unpack_from("<ii", body, 4 + 8 * index)
            if offset < 0 or length < 0 or offset + length > len(body):
                raise ProtocolError(f"multipart part {index} ({offset}+{length}) lies outside the body")
            parts.append(body[offset:offset + length])
        return parts
    except struct.error as exc:
        raise ProtocolError(f"multipart body is truncated: {exc}") from exc


def _int(el: etree._Element | None) -> int | None:
    if el is None or el.text is None:
        return None
    try:
        return int(el.text.strip())
    except ValueError:
        return None
