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
from email.policy import Policy, compat32


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


def attachment_parts(mime: bytes, *, message_policy: Policy = compat32) -> list[AttachmentContent]:
    """Every attachment of the message, numbered as Sync numbered them (body parts skipped).

    :param message_policy: the email policy of the returned parts (``policy.default``
        to attach them to a message built with it).
    """
    msg = BytesParser(policy=message_policy).parsebytes(mime)
    found: list[AttachmentContent] = []
    for part in msg.walk():
        # Inline text and HTML parts are body, not attachments, even after the
        # first of each: parse_message skips them all, so the numbers agree.
        if part.is_multipart() or _is_body(part):
            continue
        filename = part.get_filename()
        name = str(make_header(decode_header(str(filename)))) if filename else "attachment"
        found.append(AttachmentContent(name, part.get_content_type(), part.get_payload(decode=True) or b"", part))
    return found


def attachment(mime: bytes, number: int) -> AttachmentContent | None:
    parts = attachment_parts(mime)
    return parts[number] if 0 <= number < len(parts) else None
