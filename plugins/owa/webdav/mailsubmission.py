"""Sending mail through the mailbox's submission URI, ``##DavMailSubmissionURI##``.

Exchange 2003 took mail from WebDAV clients in two ways: a PUT of an RFC 822
message to ``/exchange/<mailbox>/##DavMailSubmissionURI##/``, or a MOVE of a
draft there. Either way the store handed the message to the transport, which
delivered it and kept a copy in Sent Items. The lab's transport is
``plugins.owa.submission.submit``; until that module exists a local stand-in
below delivers to lab mailboxes and drops the rest into a pickup folder.
"""
from __future__ import annotations

import dataclasses
import email.utils
import uuid
from email import policy
from email.parser import BytesParser
from typing import TYPE_CHECKING

from plugins.owa.mailbox import FolderType, NewItem
from plugins.owa.namespace import open_mailbox

if TYPE_CHECKING:  # pragma: no cover
    from host.service import WebService


def submit(service: WebService, mailbox_id: str, mime: bytes) -> None:
    """Hand ``mime`` from ``mailbox_id`` to the transport.

    Raises the store's :class:`~plugins.owa.mailbox.QuotaExceededError` when
    the transport refuses (ProhibitSendQuota), which WebDAV answers with 507.
    """
    try:
        from plugins.owa.submission import submit as transport
    except ModuleNotFoundError as missing:
        if missing.name != "plugins.owa.submission":
            raise
        transport = _deliver_locally
    transport(service, mailbox_id, mime)


def _deliver_locally(service: WebService, mailbox_id: str, mime: bytes) -> None:
    """Stand-in transport until ``plugins/owa/submission.py`` lands (TODO(issue 4): remove).

    Delivers to every recipient the directory knows, files the rest in
    ``<data>/Pickup`` as Exchange's pickup directory would, and saves the
    message in the sender's Sent Items.
    """
    store = service.mailstore
    message = BytesParser(policy=policy.default).parsebytes(mime)
    recipients = email.utils.getaddresses(
        [str(v) for name in ("To", "Cc", "Bcc") for v in message.get_all(name, [])])
    del message["Bcc"]
    outgoing = message.as_bytes()
    remote = []
    for _, address in recipients:
        user = service.directory.find_by_smtp(address) if address else None
        if user is None:
            remote.append(address)
            continue
        store.deliver(open_mailbox(store, user), outgoing)
    if remote:
        pickup = service.data_dir / "Pickup"
        pickup.mkdir(parents=True, exist_ok=True)
        (pickup / f"{uuid.uuid4().hex}.eml").write_bytes(outgoing)
    sent_items = store.default_folder(mailbox_id, FolderType.SENT_ITEMS)
    store.add_item(mailbox_id, sent_items.id, dataclasses.replace(NewItem.from_mime(mime), read=True))
