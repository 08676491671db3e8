"""Bodies on the wire: MS-ASAIRS ``airsyncbase:Body`` (12.0+) and the 2.5 ``Body``/``MIMEData`` elements.

The mail body comes from the item's MIME: the first text/plain and
text/html parts that are not attachments. A device asking for a type the
message lacks gets a conversion (HTML to text, text to HTML), as Exchange
converted; RTF (type 3) is answered as plain text.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32

from lxml import etree

from plugins.activesync.items.options import BODY_HTML, BODY_MIME, BODY_PLAIN, BODY_RTF, ItemOptions
from plugins.activesync.personas import V14_0, ProtocolVersion
from plugins.activesync.wbxml import element

_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_TAGS = re.compile(r"<(script|style)\b.*?</\1>|<[^>]+>", re.S | re.I)
UNSENT = "X-Unsent"  # "1" on a message still being written (a draft)


def xml_text(text: str) -> str:
    """Text an XML element can carry (control characters dropped)."""
    return _INVALID_XML.sub("", text)


def mime_text(mime: bytes) -> str:
    """MIME as the Data of a type-4 body: it is 7-bit in practice; 8-bit bytes survive as Latin-1."""
    try:
        return xml_text(mime.decode("utf-8"))
    except UnicodeDecodeError:
        return xml_text(mime.decode("latin-1"))


@dataclass(frozen=True)
class Attachment:
    index: int
    name: str
    size: int
    content_id: str
    inline: bool


@dataclass(frozen=True)
class ParsedMessage:
    plain: str | None
    html: str | None
    attachments: tuple[Attachment, ...]
    reply_to: str
    bcc: str = ""  # kept by drafts and Sent Items copies only; delivered mail has none
    unsent: bool = False  # a draft: X-Unsent, which Exchange's MIME conversion reads as mfUnsent

    @property
    def native_type(self) -> int:
        return BODY_HTML if self.html is not None and self.plain is None else BODY_PLAIN

    def as_text(self) -> str:
        if self.plain is not None:
            return self.plain
        return html_to_text(self.html or "")


def html_to_text(markup: str) -> str:
    return html.unescape(_TAGS.sub("", markup)).strip()


def _decoded_text(part: Message) -> str:
    payload = part.get_payload(decode=True) or b""
    charset = part.get_content_charset() or "us-ascii"
    try:
        return payload.decode(charset, "replace")
    except LookupError:  # a charset Python does not know
        return payload.decode("latin-1")


def _header(msg: Message, name: str) -> str:
    value = msg.get(name)
    if value is None:
        return ""
    try:
        return str(make_header(decode_header(str(value))))
    except (ValueError, LookupError, UnicodeDecodeError):
        return str(value)


def parse_message(mime: bytes) -> ParsedMessage:
    """Bodies and attachments of a message.

    The compat32 parser, not ``policy.default``: it does not build header
    objects for every part, which made the initial Sync of a large mailbox
    several times slower; we decode the few headers we show ourselves.
    """
    msg = BytesParser(policy=compat32).parsebytes(mime)
    plain = html_body = None
    attachments: list[Attachment] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        disposition = (part.get("Content-Disposition") or "").split(";", 1)[0].strip().lower()
        content_type = part.get_content_type()
        filename = part.get_filename()
        if disposition != "attachment" and content_type in ("text/plain", "text/html") and not filename:
            if content_type == "text/plain" and plain is None:
                plain = xml_text(_decoded_text(part))
            elif content_type == "text/html" and html_body is None:
                html_body = xml_text(_decoded_text(part))
            continue
        payload = part.get_payload(decode=True) or b""
        name = str(make_header(decode_header(filename))) if filename else "attachment"
        attachments.append(Attachment(
            index=len(attachments), name=name, size=len(payload),
            content_id=(part.get("Content-ID") or "").strip().strip("<>"), inline=disposition == "inline"))
    if plain is None and html_body is None:
        plain = ""
    return ParsedMessage(plain, html_body, tuple(attachments), _header(msg, "Reply-To"), _header(msg, "Bcc"),
                         _header(msg, UNSENT).strip() == "1")


def _truncate(data: str, limit: int | None) -> tuple[str, bool]:
    """Cut to ``limit`` bytes of UTF-8 without splitting a character."""
    raw = data.encode("utf-8")
    if limit is None or len(raw) <= limit:
        return data, False
    return raw[:limit].decode("utf-8", "ignore"), True


def airsyncbase_body(options: ItemOptions, version: ProtocolVersion, *, text: str, html_text: str | None,
                     mime: bytes | None) -> etree._Element:
    """MS-ASAIRS 2.2.2.9 Body: Type, EstimatedDataSize, Truncated, Data, Preview, in that order.

    The device's preferences are tried in its order; MIME only when MIMESupport
    allows it. No preference means plain text, whole.
    """
    chosen = None
    for pref in options.body_preferences:
        if pref.type == BODY_MIME and (mime is None or options.mime_support != 2):
            continue
        chosen = pref
        break
    if chosen is None:
        chosen = options.preference(BODY_PLAIN) or (options.body_preferences[0] if options.body_preferences
                                                     else None)
    body_type = chosen.type if chosen is not None else BODY_PLAIN
    if body_type == BODY_MIME and (mime is None or options.mime_support != 2):
        body_type = BODY_PLAIN
    if body_type == BODY_MIME:
        data = mime_text(mime or b"")
    elif body_type == BODY_HTML:
        data = html_text if html_text is not None else "<html><body><pre>" + html.escape(text) + "</pre></body></html>"
    else:
        body_type = BODY_PLAIN if body_type == BODY_RTF else body_type
        data = text
    limit = chosen.truncation_size if chosen is not None else None
    shown, truncated = _truncate(data, limit)
    if truncated and chosen is not None and chosen.all_or_none:
        shown = ""
    body = element("AirSyncBase:Body", None,
                   element("AirSyncBase:Type", str(body_type)),
                   element("AirSyncBase:EstimatedDataSize", str(len(data.encode("utf-8")))))
    if truncated:
        body.append(element("AirSyncBase:Truncated", "1"))
    if shown or not truncated:
        body.append(element("AirSyncBase:Data", shown))
    if version >= V14_0 and chosen is not None and chosen.preview:
        body.append(element("AirSyncBase:Preview", text[:chosen.preview]))
    return body


def v25_email_body(options: ItemOptions, text: str, mime: bytes) -> list[etree._Element]:
    """Protocol 2.5: MIMEData/MIMESize/MIMETruncated when MIMESupport 2, else Body/BodySize/BodyTruncated."""
    if options.mime_support == 2:
        data = mime_text(mime)
        shown, truncated = _truncate(data, options.mime_truncation)
        out = [element("Email:MIMETruncated", "1" if truncated else "0")]
        if truncated:
            out.append(element("Email:MIMESize", str(len(data.encode("utf-8")))))
        out.append(element("Email:MIMEData", shown))
        return out
    shown, truncated = _truncate(text, options.truncation)
    out = [element("Email:BodyTruncated", "1" if truncated else "0")]
    if truncated:
        out.append(element("Email:BodySize", str(len(text.encode("utf-8")))))
    if shown or not truncated:
        out.append(element("Email:Body", shown))
    return out


def v25_plain_body(page: str, options: ItemOptions, text: str) -> list[etree._Element]:
    """Protocol 2.5 bodies of contacts, appointments and tasks: ``<page>:Body`` and ``BodyTruncated``."""
    shown, truncated = _truncate(text, options.truncation)
    out = [element(f"{page}:BodyTruncated", "1" if truncated else "0")]
    if shown or not truncated:
        out.append(element(f"{page}:Body", shown))
    return out
