"""Attachment content by its reference: ``<ServerId>:<n>``, the n-th attachment of the item's MIME.

The references are the ``AirSyncBase:FileReference`` (12.0+) and
``Email:AttName`` (2.5) values that :mod:`plugins.activesync.items.email`
hands out; the numbering is the one :func:`plugins.activesync.items.body.parse_message`
uses (every leaf part that is not the message's text or HTML body, in MIME
order), so GetAttachment and ItemOperations find what Sync announced.
"""
from __future__ import annotations

from dataclasses import dataclass
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32


@dataclass(frozen=True)
class AttachmentContent:
    name: str
    content_type: str
    data: bytes
    part: Message  # the MIME part itself, to forward it as it came


def split_reference(reference: str) -> tuple[str, int] | None:
    """(item ServerId, attachment number) of ``folder:item:n``, or None for anything else."""
    server_id, sep, number = reference.strip().rpartition(":")
    if not sep or ":" not in server_id or not number.isdigit():
        return None
    return server_id, int(number)


def _is_body(part: Message) -> bool:
    disposition = (part.get("Content-Disposition") or "").split(";", 1)[0].strip().lower()
    return (disposition != "attachment" and part.get_content_type() in ("text/plain", "text/html")
            and not part.get_filename())


def attachment_parts(mime: bytes) -> list[AttachmentContent]:
    """Every attachment of the message, numbered as Sync numbered them (body parts skipped)."""
    msg = BytesParser(policy=compat32).parsebytes(mime)
    found: list[AttachmentContent] = []
    seen_plain = seen_html = False
    for part in msg.walk():
        if part.is_multipart():
            continue
        if _is_body(part):
            # Only the first text and first HTML part are the body; parse_message
            # skips any further ones as well, so they are not attachments either.
            if part.get_content_type() == "text/plain":
                seen_plain = True
            else:
                seen_html = True
            continue
        filename = part.get_filename()
        name = str(make_header(decode_header(filename))) if filename else "attachment"
        found.append(AttachmentContent(name, part.get_content_type(), part.get_payload(decode=True) or b"", part))
    del seen_plain, seen_html
    return found


def attachment(mime: bytes, number: int) -> AttachmentContent | None:
    parts = attachment_parts(mime)
    return parts[number] if 0 <= number < len(parts) else None
