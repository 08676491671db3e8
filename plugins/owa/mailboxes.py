"""Mailboxes for directory users, created on first use as Exchange 2003 did.

Exchange 2003 did not create the mailbox when an admin mail-enabled a user:
the store made it on the first logon or the first delivery. The lab does the
same, with the mailbox id being the user's logon name (``CONTOSO\\alice``) and
its display name and primary SMTP address taken from the directory.
"""
from __future__ import annotations

from host.directory import User
from plugins.owa.mailbox import Mailbox, MailboxExists, MailboxStore, NoSuchMailbox


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
