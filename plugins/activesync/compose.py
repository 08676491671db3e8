"""What SmartReply and SmartForward add to the device's message before it is sent.

MS-ASCMD 2.2.1.19/2.2.1.20: the device sends only its new text; the server
retrieves the original and sends it along, so the device never downloads
and uploads it again. As Exchange did, the original's body is quoted below
the new text behind a header block (From, Sent, To, Cc, Subject), in the
plain text part and in the HTML part; a forward also carries the
original's attachments. With ``ReplaceMime`` (MS-ASCMD 2.2.3.148) the
device sent the whole message and nothing is added.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from plugins.activesync.items.attachments import attachment_parts
from plugins.activesync.items.body import parse_message

# Exchange 2003 quoted as Outlook 2003 did; Exchange 2007 and later draw a line.
SEPARATOR_2003 = "-----Original Message-----"
SEPARATOR = "_" * 32
_BODY_END = re.compile(r"</body\s*>", re.I)
_BODY_INNER = re.compile(r"<body[^>]*>(.*?)</body\s*>", re.I | re.S)


@dataclass(frozen=True)
class Original:
    """The message replied to or forwarded, as the quote header shows it."""

    mime: bytes
    sender: str
    to: str
    cc: str
    subject: str
    sent: datetime | None


def _when(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.strftime("%A, %B %d, %Y %I:%M %p").replace(" 0", " ")


def _header_lines(original: Original) -> list[tuple[str, str]]:
    lines = [("From", original.sender), ("Sent", _when(original.sent)), ("To", original.to)]
    if original.cc:
        lines.append(("Cc", original.cc))
    lines.append(("Subject", original.subject))
    return lines


def _plain_quote(original: Original, text: str, separator: str) -> str:
    head = "\r\n".join(f"{name}: {value}" for name, value in _header_lines(original))
    return f"\r\n\r\n{separator}\r\n{head}\r\n\r\n{text}"


def _html_quote(original: Original, markup: str | None, text: str) -> str:
    head = "<br>\r\n".join(f"<b>{name}:</b> {html.escape(value)}" for name, value in _header_lines(original))
    if markup is not None:
        inner = _BODY_INNER.search(markup)
        quoted = inner.group(1) if inner else markup
    else:
        quoted = "<pre>" + html.escape(text) + "</pre>"
    return f'<hr>\r\n<div>{head}<br>\r\n</div>\r\n<div>{quoted}</div>\r\n'


def _with_html_quote(markup: str, quote: str) -> str:
    end = _BODY_END.search(markup)
    if end is None:
        return markup + quote
    return markup[:end.start()] + quote + markup[end.start():]


def quote_original(mime: bytes, original: Original, *, forward: bool, separator: str = SEPARATOR) -> bytes:
    """The device's message with the original's body quoted (and, for a forward, its attachments)."""
    msg = BytesParser(policy=policy.default).parsebytes(mime)
    parsed = parse_message(original.mime)
    text = parsed.as_text()
    quoted_plain = quoted_html = False
    for part in list(msg.walk()):
        if part.is_multipart() or part.is_attachment():
            continue
        kind = part.get_content_type()
        if kind == "text/plain" and not quoted_plain:
            part.set_content(part.get_content().rstrip("\r\n") + _plain_quote(original, text, separator),
                             subtype="plain", charset="utf-8")
            quoted_plain = True
        elif kind == "text/html" and not quoted_html:
            part.set_content(_with_html_quote(part.get_content(), _html_quote(original, parsed.html, text)),
                             subtype="html", charset="utf-8")
            quoted_html = True
    if forward:
        _attach_originals(msg, original.mime)
    return msg.as_bytes(policy=policy.SMTP)


def _attach_originals(msg: EmailMessage, original_mime: bytes) -> None:
    parts = attachment_parts(original_mime, message_policy=policy.default)
    if not parts:
        return
    if msg.get_content_type() != "multipart/mixed":
        msg.make_mixed()
    for found in parts:
        msg.attach(found.part)


def add_reply_headers(mime: bytes, original_mime: bytes) -> bytes:
    """In-Reply-To and References from the original (RFC 5322 3.6.4) when the device left them out."""
    head = BytesParser(policy=policy.compat32).parsebytes(original_mime, headersonly=True)
    message_id = (head.get("Message-ID") or "").strip()
    if not message_id:
        return mime
    msg = BytesParser(policy=policy.default).parsebytes(mime)
    if msg.get("In-Reply-To") is None:
        msg["In-Reply-To"] = message_id
    if msg.get("References") is None:
        references = " ".join(r for r in ((head.get("References") or "").split() + [message_id]) if r)
        msg["References"] = references
    return msg.as_bytes(policy=policy.SMTP)
