"""The Out of Office Assistant's state, kept in the mailbox so every client sees the same.

Exchange 2003 kept the switch on the mailbox (PR_OOF_STATE) and the reply
text as a hidden message of class ``IPM.Note.Rules.OofTemplate.Microsoft``.
The lab keeps both in one hidden item written with the store's state API:
folder ``Out of Office`` under the mailbox root (the non-IPM subtree), item
named after that message class, holding JSON ``{"state": bool, "message": str}``.
Like any hidden item it counts toward quota, and WebDAV shows it at
``/exchange/<mailbox>/NON_IPM_SUBTREE/Out%20of%20Office/IPM.Note.Rules.OofTemplate.Microsoft``,
which is where MASSYNC's ``Settings`` command (Oof) can read it over /exchange.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from plugins.owa.mailbox import MailboxStore, NoSuchItem

FOLDER = "Out of Office"
NAME = "IPM.Note.Rules.OofTemplate.Microsoft"


@dataclass(frozen=True)
class OutOfOffice:
    state: bool = False
    message: str = ""


def read(store: MailboxStore, mailbox_id: str) -> OutOfOffice:
    """The mailbox's setting; never set means "In the Office" with no text."""
    try:
        data = json.loads(store.get_state(mailbox_id, FOLDER, NAME))
    except NoSuchItem:
        return OutOfOffice()
    return OutOfOffice(bool(data.get("state")), str(data.get("message", "")))


def write(store: MailboxStore, mailbox_id: str, setting: OutOfOffice) -> None:
    """Store the setting; a full mailbox refuses it (QuotaExceededError) like any other write."""
    data = json.dumps({"state": setting.state, "message": setting.message}, ensure_ascii=False)
    store.put_state(mailbox_id, FOLDER, NAME, data.encode("utf-8"))
