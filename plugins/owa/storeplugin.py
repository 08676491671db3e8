"""The built-in mailbox store: SQLite in the data directory, with the mailbox store's limits.

Exchange 2003 set storage limits on the mailbox store's Limits tab; the lab
keeps them as values of ``[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Exchange\\Mailbox Store]``
and copies them into the store whenever a configuration is put into service,
so the store's own quota checks (PITFALLS 2.11) enforce what registry.ini
says. Per-mailbox overrides (``python -m host mailbox quota``) live in the
store, as they lived on the AD user object.

On the first run the demo users get a small mailbox to explore.
"""
from __future__ import annotations

from datetime import datetime, timezone

from host import hookimpl
from host.metabase import Property
from host.regfile import RegType
from plugins.owa.mailbox import MailboxStore, Quotas
from plugins.owa.mailboxes import provision_mailbox
from plugins.owa.seed import fill_demo_mailbox
from plugins.owa.sqlitestore import SQLiteMailboxStore

MAILBOX_STORE_KEY = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Exchange\Mailbox Store"
STORE_FILE = "mailstore.db"
QUOTA_VALUES = ("IssueWarningQuota", "ProhibitSendQuota", "ProhibitSendReceiveQuota")


@hookimpl
def register_registry_properties() -> list[Property]:
    where = (MAILBOX_STORE_KEY,)
    dword = RegType.REG_DWORD
    return [
        Property("IssueWarningQuota", dword, where, 0,
                 "Mailbox size in KB above which the owner is warned; 0 = no limit."),
        Property("ProhibitSendQuota", dword, where, 0,
                 "Mailbox size in KB above which the owner can no longer send mail; 0 = no limit."),
        Property("ProhibitSendReceiveQuota", dword, where, 0,
                 "Mailbox size in KB above which the store refuses every write: delivery (552 5.2.2), "
                 "new items, and ActiveSync's sync state; 0 = no limit."),
    ]


def store_quotas(config) -> Quotas:
    """The mailbox store defaults registry.ini asks for."""
    warning, send, send_receive = (config.registry_value(MAILBOX_STORE_KEY, name) for name in QUOTA_VALUES)
    return Quotas(warning or None, send or None, send_receive or None)


def apply_store_quotas(store: MailboxStore, config) -> None:
    wanted = store_quotas(config)
    if store.store_quotas() != wanted:
        store.set_store_quotas(wanted)


@hookimpl(trylast=True)
def open_mailbox_store(service) -> MailboxStore:
    store = SQLiteMailboxStore(service.data_dir / STORE_FILE)
    try:
        apply_store_quotas(store, service.config)
    except BaseException:
        store.close()
        raise
    return store


@hookimpl
def config_applied(service, previous, current) -> None:
    # The first configuration arrives while the service is being built, before
    # anything opened the store; open_mailbox_store applies it then.
    if previous is not None:
        apply_store_quotas(service.mailstore, current)


@hookimpl(tryfirst=True)  # mailboxes exist before any listener (SMTP) can deliver
def host_startup(service) -> None:
    store = service.mailstore
    apply_store_quotas(store, service.config)  # also when another plugin's store answered
    if store.list_mailboxes():
        return
    # First run of this data directory: the directory's users (the demo users
    # on a fresh lab) get their mailboxes now, with something in them.
    now = datetime.now(timezone.utc)
    users = service.directory.users()
    for user in users:
        mailbox, created = provision_mailbox(store, user)
        if created:
            fill_demo_mailbox(store, mailbox.id, user, [u for u in users if u != user], now=now)
