"""Attachment content by its reference: ``<ServerId>:<n>``, the attachment numbered n in the item.

The references are the ``AirSyncBase:FileReference`` (12.0+) and
``Email:AttName`` (2.5) values that :mod:`plugins.activesync.items.email`
hands out; the attachments are those :func:`plugins.activesync.items.body.parse_message`
finds (every leaf part that is not the message's text or HTML body, in MIME
order), so GetAttachment and ItemOperations find what Sync announced. They
are numbered 0, 1, 2... in that order, except in a draft edited through Sync
(:mod:`plugins.activesync.items.drafts`), which keeps each attachment's number
in its properties (:func:`attach_numbers`).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
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


# Item property: the number of each attachment, in MIME order (a draft's, see attach_numbers).
ATTACH_NUMBERS = "attach_numbers"


def attach_numbers(properties: Mapping[str, Any], count: int) -> list[int]:
    """The number of each of an item's ``count`` attachments, in MIME order: MAPI's PidTagAttachNumber.

    A device that added an attachment to a draft records its FileReference
    to delete it later (MS-ASAIRS 2.2.2.24.1), so an attachment keeps its
    number while the draft is edited: deleting the first must not make the
    second answer to the first one's reference. A draft therefore keeps the
    numbers in its properties; any other message (or numbers that no longer
    fit its MIME) numbers its attachments as they come.
    """
    stored = properties.get(ATTACH_NUMBERS)
    if (isinstance(stored, list) and len(stored) == count and len(set(stored)) == count
            and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in stored)):
        return list(stored)
    return list(range(count))


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


def attachment(mime: bytes, number: int, properties: Mapping[str, Any]) -> AttachmentContent | None:
    """The attachment numbered ``number`` (:func:`attach_numbers` of the item's ``properties``), if any."""
    parts = attachment_parts(mime)
    numbers = attach_numbers(properties, len(parts))
    return parts[numbers.index(number)] if number in numbers else None
