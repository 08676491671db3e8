"""Mailboxes for directory users, created on first use as Exchange 2003 did.

Exchange 2003 did not create the mailbox when an admin mail-enabled a user:
the store made it on the first logon or the first delivery. The lab does the
same, with the mailbox id being the user's logon name (``CONTOSO\\alice``) and
its display name and primary SMTP address taken from the directory.
"""
from __future__ import annotations

from host.directory import User
from plugins.owa.mailbox import Mailbox, MailboxExists, MailboxStore, NoSuchFolder, NoSuchMailbox


def provision_mailbox(store: MailboxStore, user: User) -> tuple[Mailbox, bool]:
    """The user's mailbox, and whether this call created it.

    Two first deliveries racing each other both succeed: the loser of the
    store's create finds the winner's mailbox.
    """
    try:
        return store.get_mailbox(user.logon_name), False
    except NoSuchMailbox:
        pass
    try:
        return store.create_mailbox(user.logon_name, user.display_name, user.primary_smtp), True
    except MailboxExists as exc:
        if exc.smtp_address is not None:
            raise  # another mailbox holds this primary address: an admin must sort that out
        return store.get_mailbox(user.logon_name), False


def ensure_mailbox(service, user: User) -> str:
    """The id of ``user``'s mailbox in the service's store, creating it on first use."""
    return provision_mailbox(service.mailstore, user)[0].id


def visible_changes(store: MailboxStore, mailbox_id: str, folder_ids) -> frozenset[int]:
    """The folders of a commit that a user sees (``mailbox_changed`` reports every folder it touched).

    A commit that wrote only sync state or a partnership (hidden folders
    under the mailbox root) changed nothing a waiting device or a folder
    subscription waits for; with a thousand devices on one server, waking
    every held Ping for each of their state writes would keep the server
    busy waking them. A folder deleted by the commit is no longer listed and
    so counts as visible. A commit touches a folder or two: each is looked up
    by its id rather than listing the mailbox's folders.
    """
    return frozenset(folder_id for folder_id in folder_ids if not _hidden(store, mailbox_id, folder_id))


def _hidden(store: MailboxStore, mailbox_id: str, folder_id: int) -> bool:
    try:
        return store.get_folder(mailbox_id, folder_id).hidden
    except (NoSuchFolder, NoSuchMailbox):  # deleted by the commit: whoever watched it must hear of it
        return False
