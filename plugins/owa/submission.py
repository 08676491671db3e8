"""Mail a mailbox sends: OWA's Send button, the WebDAV submission URI, MASSYNC's SendMail.

As on Exchange 2003 the store refuses to send for a mailbox over its
ProhibitSendQuota, the message is stamped (Date, Message-ID, From) and saved
to Sent Items with its Bcc line, and the transport takes a copy without Bcc:
the categorizer delivers to lab mailboxes through the store driver (so a
full recipient mailbox refuses exactly as over SMTP, and the sender gets an
NDR), and everything for other organisations is written to the Pickup
folder, never sent to the network.

MaxMessageSize of the Default SMTP Virtual Server (``[/LM/SMTPSVC/1]``)
applies, as every message Exchange 2003 sent passed through that server.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from email import policy
from email.parser import BytesHeaderParser
from email.utils import format_datetime, formataddr, getaddresses, make_msgid
from pathlib import Path

from plugins.owa.mailbox import FolderType, NewItem, QuotaExceededError, QuotaState
from plugins.smtp import ndr, storedriver
from plugins.smtp.categorizer import RouteKind, categorize
from plugins.smtp.pickup import write_pickup
from plugins.smtp.replies import USER_UNKNOWN, Reply
from plugins.smtp.settings import default_fqdn, virtual_server

DEFAULT_VIRTUAL_SERVER = 1
_RECIPIENT_HEADERS = ("To", "Cc", "Bcc")
_BCC_LINE = re.compile(rb"^bcc[ \t]*:", re.IGNORECASE)


class SubmissionError(Exception):
    """The message was not sent at all; nothing was delivered or saved."""


class NoRecipientsError(SubmissionError):
    def __init__(self) -> None:
        super().__init__("The message has no recipients: give To, Cc or Bcc addresses.")


class MessageTooLargeError(SubmissionError):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"The message is {size:,} bytes; the SMTP virtual server's MaxMessageSize is "
                         f"{limit:,} bytes (552 5.3.4).")
        self.size, self.limit = size, limit


class SendQuotaExceededError(QuotaExceededError):
    """The sender's mailbox is over ProhibitSendQuota: Exchange refuses to send until it shrinks."""

    def __init__(self, mailbox_id: str, quota_name: str, limit_kb: int, size: int) -> None:
        super().__init__(mailbox_id, quota_name, limit_kb, size, size)
        self.args = (f"Mailbox {mailbox_id!r} is {-(-size // 1024):,} KB, over its {quota_name} of "
                     f"{limit_kb:,} KB: it cannot send until items are deleted or the limit is raised.",)


@dataclass(frozen=True)
class RecipientFailure:
    address: str
    reply: Reply


@dataclass(frozen=True)
class SubmissionResult:
    message_id: str
    delivered: tuple[str, ...]  # addresses delivered into lab mailboxes
    picked_up: tuple[str, ...]  # addresses written to the Pickup folder
    failed: tuple[RecipientFailure, ...]  # the sender got an NDR for these
    sent_item_id: int | None  # the copy in Sent Items
    pickup_file: Path | None


def submit(service, mailbox_id: str, mime: bytes, *, recipients: Sequence[str] | None = None,
           save_in_sent: bool = True) -> SubmissionResult:
    """Send ``mime`` from ``mailbox_id``; ``recipients`` overrides the To/Cc/Bcc headers as the envelope.

    :raises SendQuotaExceededError: the sender is over ProhibitSendQuota.
    :raises MessageTooLargeError: over the virtual server's MaxMessageSize.
    :raises NoRecipientsError: nobody to send to.
    :raises QuotaExceededError: saving to Sent Items would pass ProhibitSendReceiveQuota.
    """
    store = service.mailstore
    mailbox = store.get_mailbox(mailbox_id)
    _check_send_quota(store, mailbox_id)
    fqdn = default_fqdn(service.computer_name, service.directory)
    limit = virtual_server(service.config, DEFAULT_VIRTUAL_SERVER, fqdn).max_message_size
    if limit is not None and len(mime) > limit:
        raise MessageTooLargeError(len(mime), limit)
    head, separator, body = _split(mime)
    headers = BytesHeaderParser(policy=policy.compat32).parsebytes(head + separator)
    addresses = _recipients(recipients, headers)
    now = datetime.now(timezone.utc).astimezone()
    newline = b"\r\n" if b"\r\n" in head or not head else b"\n"
    stamps, message_id = _stamps(headers, mailbox, fqdn, now)
    stamp = b"".join(line.encode("utf-8") + newline for line in stamps)
    sent_item_id = None
    if save_in_sent:  # first: a full mailbox fails here, before anyone got the message
        sent_items = store.default_folder(mailbox_id, FolderType.SENT_ITEMS).id
        item = replace(NewItem.from_mime(stamp + mime, date_received=now), read=True)
        sent_item_id = store.add_item(mailbox_id, sent_items, item).id
    outgoing = stamp + _without_bcc(head) + separator + body
    delivered, remote, failed = _route(service, addresses, outgoing)
    pickup_file = write_pickup(service.data_dir, mailbox.smtp_address, remote, outgoing) if remote else None
    ndr.send_ndr(service, fqdn, mailbox.smtp_address, outgoing, [(f.address, f.reply) for f in failed], now)
    return SubmissionResult(message_id, tuple(delivered), tuple(remote), tuple(failed), sent_item_id, pickup_file)


def _check_send_quota(store, mailbox_id: str) -> None:
    state = store.quota_state(mailbox_id)
    if state not in (QuotaState.PROHIBIT_SEND, QuotaState.PROHIBIT_SEND_RECEIVE):
        return
    quotas = store.effective_quotas(mailbox_id)
    size = store.mailbox_size(mailbox_id)
    if quotas.prohibit_send_kb is not None and size > quotas.prohibit_send_kb * 1024:
        raise SendQuotaExceededError(mailbox_id, "ProhibitSendQuota", quotas.prohibit_send_kb, size)
    raise SendQuotaExceededError(mailbox_id, "ProhibitSendReceiveQuota", quotas.prohibit_send_receive_kb, size)


def _split(mime: bytes) -> tuple[bytes, bytes, bytes]:
    """(header block, the blank line that ends it, body)."""
    ends = [(i, sep) for sep in (b"\r\n\r\n", b"\n\n") if (i := mime.find(sep)) >= 0]
    if not ends:
        return mime, b"", b""
    index, separator = min(ends)
    return mime[:index], separator, mime[index + len(separator):]


def _recipients(explicit: Sequence[str] | None, headers) -> list[str]:
    if explicit is not None:
        found = [a.strip() for a in explicit]
    else:
        values = [str(v) for name in _RECIPIENT_HEADERS for v in headers.get_all(name, [])]
        found = [address for _, address in getaddresses(values)]
    unique: dict[str, str] = {}
    for address in found:
        if "@" in address:
            unique.setdefault(address.casefold(), address)
    if not unique:
        raise NoRecipientsError()
    return list(unique.values())


def _stamps(headers, mailbox, fqdn: str, now: datetime) -> tuple[list[str], str]:
    """Headers the store adds on submission when the client left them out."""
    stamps = []
    if headers.get("Date") is None:
        stamps.append(f"Date: {format_datetime(now)}")
    message_id = headers.get("Message-ID")
    if message_id is None:
        message_id = make_msgid(domain=fqdn)
        stamps.append(f"Message-ID: {message_id}")
    if headers.get("From") is None:
        stamps.append(f"From: {formataddr((mailbox.display_name, mailbox.smtp_address))}")
    return stamps, str(message_id).strip()


def _without_bcc(head: bytes) -> bytes:
    """The header block without Bcc and its folded continuation lines (RFC 5322 3.6.3)."""
    kept, skipping = [], False
    for line in head.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t"):
            if not skipping:
                kept.append(line)
            continue
        skipping = bool(_BCC_LINE.match(line))
        if not skipping:
            kept.append(line)
    text = b"".join(kept)
    return text[:-2] if text.endswith(b"\r\n") else text[:-1] if text.endswith(b"\n") else text


def _route(service, addresses: list[str], mime: bytes) -> tuple[list[str], list[str], list[RecipientFailure]]:
    delivered, remote, failed = [], [], []
    mailboxes: set[str] = set()
    for address in addresses:
        route = categorize(service.directory, address)
        if route.kind is RouteKind.REMOTE:
            remote.append(address)
            continue
        if route.kind is RouteKind.UNKNOWN:
            failed.append(RecipientFailure(address, USER_UNKNOWN))
            continue
        if route.user.logon_name in mailboxes:
            continue
        refusal = storedriver.check_recipient(service, route.user) or storedriver.deliver(service, route.user, mime)
        if refusal is None:
            mailboxes.add(route.user.logon_name)
            delivered.append(address)
        else:
            failed.append(RecipientFailure(address, refusal))
    return delivered, remote, failed
