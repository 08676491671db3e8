"""The store driver: local delivery into a mailbox, where the store's real quota can refuse it.

Exchange 2003 checked a recipient's quota twice: the categorizer refused a
mailbox already over ProhibitSendReceiveQuota (so the sender got 552 5.2.2
at RCPT time), and the information store refused the write itself when this
message would push it over. Both checks read the store's own counters.
"""
from __future__ import annotations

from host.directory import User
from host.eventlog import Level
from plugins.owa.mailbox import QuotaExceededError, QuotaState
from plugins.owa.mailboxes import ensure_mailbox
from plugins.smtp.replies import MAILBOX_FULL, Reply

STORE_EVENT_SOURCE = "MSExchangeIS Mailbox Store"
# The event Exchange logs for a mailbox over its storage limit.
MAILBOX_OVER_LIMIT = 8528


def check_recipient(service, user: User) -> Reply | None:
    """Whether the user's mailbox may receive at all (None) or is full (5.2.2)."""
    store = service.mailstore
    mailbox_id = ensure_mailbox(service, user)
    if store.quota_state(mailbox_id) is not QuotaState.PROHIBIT_SEND_RECEIVE:
        return None
    limit = store.effective_quotas(mailbox_id).prohibit_send_receive_kb
    size_kb = -(-store.mailbox_size(mailbox_id) // 1024)
    _log_full(service, user, f"The mailbox is {size_kb:,} KB; its ProhibitSendReceiveQuota is {limit:,} KB.")
    return MAILBOX_FULL


def deliver(service, user: User, mime: bytes) -> Reply | None:
    """Put ``mime`` into the user's Inbox; None on success, else the reply that refuses it.

    The store's commit fires ``mailbox_changed`` through the service, which
    is what wakes a waiting Ping.
    """
    mailbox_id = ensure_mailbox(service, user)
    try:
        service.mailstore.deliver(mailbox_id, mime)
    except QuotaExceededError as exc:
        _log_full(service, user, str(exc))
        return MAILBOX_FULL
    return None


def _log_full(service, user: User, detail: str) -> None:
    service.eventlog.write(
        STORE_EVENT_SOURCE, MAILBOX_OVER_LIMIT, Level.WARNING,
        f"The mailbox for {user.logon_name} ({user.primary_smtp}) has exceeded the maximum mailbox size. "
        f"This mailbox cannot send or receive messages. Incoming messages to this mailbox are returned to "
        f"sender.\n\n{detail}\n\nRaise the quota (python -m host mailbox quota {user.logon_name} ...) or empty "
        "the mailbox.",
    )
