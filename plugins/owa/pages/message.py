"""A stored message as the read page shows it: headers, a safe body, the attachments.

The store keeps mail as the MIME it arrived in; this module reads it with the
standard library's parser. An HTML body passes through nh3 before it reaches a
page (scripts, event handlers, ``javascript:`` links and styles go; text and
ordinary formatting stay). Attachments are numbered in MIME order, which is
how the read page links to them.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import nh3
from markupsafe import Markup

from host.errors import ERROR_FILE_NOT_FOUND, HttpError


@dataclass(frozen=True)
class Attachment:
    number: int
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True)
class MessageView:
    subject: str
    sender: str
    to: str
    cc: str
    message_id: str
    references: str
    text: str  # the plain-text body (derived from the HTML when there is none)
    html: Markup | None  # the sanitized HTML body, when the message has one
    attachments: tuple[Attachment, ...]


def parse(mime: bytes) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(mime)


def read(mime: bytes) -> MessageView:
    msg = parse(mime)
    html_part = msg.get_body(preferencelist=("html",))
    plain_part = msg.get_body(preferencelist=("plain",))
    html_body = _content(html_part) if html_part is not None else None
    text = _content(plain_part) if plain_part is not None else plain_text(html_body or "")
    return MessageView(
        subject=_header(msg, "Subject"), sender=_header(msg, "From"), to=_header(msg, "To"),
        cc=_header(msg, "Cc"), message_id=_header(msg, "Message-ID"), references=_header(msg, "References"),
        text=text, html=Markup(nh3.clean(html_body)) if html_body is not None else None,
        attachments=tuple(Attachment(n, name, part.get_content_type(), len(_payload(part)))
                          for n, (name, part) in enumerate(attachment_parts(msg), start=1)),
    )


def attachment_parts(msg: EmailMessage) -> list[tuple[str, EmailMessage]]:
    """Every part with a file name that is not a body, in MIME order; an attached
    message (message/rfc822) is one attachment, not opened up."""
    bodies = {id(part) for part in (msg.get_body(preferencelist=("html",)), msg.get_body(preferencelist=("plain",)))
              if part is not None}
    found: list[tuple[str, EmailMessage]] = []
    for part in _leaves(msg):
        if id(part) in bodies:
            continue
        name = part.get_filename()
        if name or part.is_attachment() or part.get_content_type() == "message/rfc822":
            found.append((name or f"attachment{len(found) + 1}.{_extension(part)}", part))
    return found


def _leaves(part: EmailMessage):
    if part.get_content_maintype() == "multipart":
        for child in part.iter_parts():
            yield from _leaves(child)
    else:
        yield part


def _extension(part: EmailMessage) -> str:
    return "eml" if part.get_content_type() == "message/rfc822" else "dat"


def attachment(mime: bytes, number: int) -> tuple[str, str, bytes]:
    """(file name, content type, bytes) of attachment ``number`` (1-based); 404 when absent."""
    parts = attachment_parts(parse(mime))
    if not 1 <= number <= len(parts):
        raise HttpError(404, 0, ERROR_FILE_NOT_FOUND, detail=f"The message has no attachment {number}.")
    name, part = parts[number - 1]
    return name, part.get_content_type(), _payload(part)


def plain_text(html_body: str) -> str:
    """The text of an HTML body, for quoting it in a reply."""
    return html.unescape(nh3.clean(html_body, tags=set())).strip()


def _payload(part: EmailMessage) -> bytes:
    if part.get_content_type() == "message/rfc822":
        return part.get_payload(0).as_bytes(policy=policy.SMTP)
    return part.get_payload(decode=True) or b""


def _content(part: EmailMessage) -> str:
    try:
        return part.get_content()
    except (LookupError, ValueError):  # an unknown charset: show what can be shown
        return _payload(part).decode("utf-8", "replace")


def _header(msg: EmailMessage, name: str) -> str:
    try:
        value = msg.get(name)
    except (ValueError, LookupError, TypeError, AttributeError):
        return ""
    return "" if value is None else str(value)
