"""What Exchange's own methods (SEARCH, B*, SUBSCRIBE, POLL, submission) send back.

They run beside WsgiDAV, so they build their answers here: a status, headers
and a body, written by davex.py in one piece (never a generator, so an error
is still an IIS error page and not a half-sent answer).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from http import HTTPStatus

from lxml import etree

from host.errors import HttpError
from plugins.owa.webdav.schemas import DAV, to_xml

# WebDAV and Exchange statuses the standard library does not name.
_PHRASES = {207: "Multi-Status", 422: "Unprocessable Entity", 423: "Locked", 424: "Failed Dependency",
            475: "Invalid collblob", 507: "Insufficient Storage"}
MAX_BODY = 32 * 1024 * 1024  # refuse to buffer more than any sane WebDAV client sends


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @property
    def status_line(self) -> str:
        return f"{self.status} {phrase(self.status)}"


def phrase(status: int) -> str:
    if status in _PHRASES:
        return _PHRASES[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def http_status(status: int) -> str:
    """``HTTP/1.1 404 Not Found``, the text of a multistatus ``<status>``."""
    return f"HTTP/1.1 {status} {phrase(status)}"


def status_element(parent: etree._Element, status: int) -> None:
    etree.SubElement(parent, f"{{{DAV}}}status").text = http_status(status)


def multistatus_answer(element: etree._Element, headers: list[tuple[str, str]] | None = None) -> Answer:
    return Answer(207, [("Content-Type", 'text/xml; charset="utf-8"'), *(headers or [])], to_xml(element))


def read_body(environ) -> bytes:
    """The request body, bounded by its Content-Length."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise HttpError(400, 0, 0, detail="Content-Length is not a number.") from None
    if length > MAX_BODY:
        raise HttpError(413, 0, 0)
    return environ["wsgi.input"].read(length) if length > 0 else b""
