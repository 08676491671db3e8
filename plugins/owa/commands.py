"""``mailbox seed|list|quota``: the lab's Exchange System Manager for mailboxes.

The commands open the store the way the host does (``open_mailbox_store``),
so they work on the SQLite store or whatever store plugin is installed, and
may run while the host serves: the store serializes writers across processes.
A change made here does not fire the host's ``mailbox_changed``, so a waiting
Ping notices it on its next heartbeat, not at once.
"""
from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from datetime import datetime, timezone

from host.cli import CliCommand, CliError
from host.config import ConfigError
from host.hookspecs import hookimpl
from plugins.owa.mailbox import MailboxStore, QuotaExceededError, Quotas, QuotaState, StoreError
from plugins.owa.mailboxes import provision_mailbox
from plugins.owa.seed import EXTERNAL_PEOPLE, SeedPlan, person_of, seed_mailbox

_STATE_WORDS = {
    QuotaState.OK: "ok",
    QuotaState.WARNING: "over IssueWarningQuota",
    QuotaState.PROHIBIT_SEND: "over ProhibitSendQuota (cannot send)",
    QuotaState.PROHIBIT_SEND_RECEIVE: "over ProhibitSendReceiveQuota (cannot send or receive)",
}
_STATE_NAMES = {QuotaState.OK: "ok", QuotaState.WARNING: "IssueWarning", QuotaState.PROHIBIT_SEND: "ProhibitSend",
                QuotaState.PROHIBIT_SEND_RECEIVE: "ProhibitSendReceive"}
# Item counts by the folder's PR_CONTAINER_CLASS; hidden folders (sync state) count apart.
_COLUMNS = {"IPF.Note": "Mail", "IPF.Appointment": "Calendar", "IPF.Contact": "Contacts",
            "IPF.Task": "Tasks", "IPF.StickyNote": "Notes"}


@contextlib.contextmanager
def _store(ctx) -> Iterator[MailboxStore]:
    from host.service import WebService

    try:
        service = WebService(ctx.registry_path, ctx.data_dir, pm=ctx.pm, announce=lambda line: None)
    except ConfigError as exc:
        raise CliError(str(exc), 2) from None
    try:
        store = service.mailstore
        if store is None:
            raise CliError("no plugin opens a mailbox store (open_mailbox_store); see \"python -m host plugins\"")
        yield store
    finally:
        service.stop()


def _user(ctx, name: str):
    user = ctx.directory.find(name)
    if user is None:
        raise CliError(f"no such user {name}; see \"python -m host user list\"")
    return user


def _kb(size: int) -> str:
    return f"{-(-size // 1024):,} KB"


def _limit(kb: int | None) -> str:
    return "no limit" if kb is None else f"{kb:,} KB"


# --- seed -------------------------------------------------------------------------


def run_seed(ctx) -> int:
    args = ctx.args
    user = _user(ctx, args.user)
    plan = SeedPlan(args.messages, args.calendar, args.contacts, args.tasks, args.notes)
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "big")
    colleagues = [person_of(u) for u in ctx.directory.users() if u != user]
    with _store(ctx) as store:
        mailbox, _ = provision_mailbox(store, user)
        folder_id = None
        if args.folder:
            try:
                folder_id = store.folder_by_path(mailbox.id, args.folder).id
            except StoreError as exc:
                raise CliError(str(exc)) from None
        started = time.perf_counter()
        try:
            counts = seed_mailbox(store, mailbox.id, person_of(user), colleagues + list(EXTERNAL_PEOPLE), plan,
                                  seed=seed, now=datetime.now(timezone.utc).replace(second=0, microsecond=0),
                                  mail_folder_id=folder_id)
        except QuotaExceededError as exc:
            raise CliError(f"{exc} Items added before the limit was hit were kept.") from None
        elapsed = time.perf_counter() - started
        size = store.mailbox_size(mailbox.id)
    added = ", ".join(f"{name} {count:,}" for name, count in counts.items() if count) or "nothing"
    ctx.print(f"{mailbox.id}: added {added} in {elapsed:.1f} s (seed {seed}); mailbox size {_kb(size)}")
    return 0


def configure_seed(parser) -> None:
    parser.add_argument("user", help=r"CONTOSO\alice, alice@contoso.com or alice")
    parser.add_argument("--messages", type=non_negative, default=0, metavar="N", help="mail messages (to the Inbox)")
    parser.add_argument("--calendar", type=non_negative, default=0, metavar="N",
                        help="calendar items; the first is a weekly meeting")
    parser.add_argument("--contacts", type=non_negative, default=0, metavar="N")
    parser.add_argument("--tasks", type=non_negative, default=0, metavar="N")
    parser.add_argument("--notes", type=non_negative, default=0, metavar="N")
    parser.add_argument("--seed", type=int, metavar="S",
                        help="random seed: the same seed gives the same items (default: a new one, printed)")
    parser.add_argument("--folder", metavar="PATH", help='mail folder for the messages, e.g. "Inbox/Projects"')


def non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


# --- list -------------------------------------------------------------------------


def run_list(ctx) -> int:
    columns = [*_COLUMNS.values(), "Hidden"]
    ctx.print(f"{'Mailbox':<22} {'Size':>12}  {'Quota':<20}" + "".join(f" {c:>8}" for c in columns))
    with _store(ctx) as store:
        for mailbox in store.list_mailboxes():
            counts = dict.fromkeys(columns, 0)
            for folder in store.folders(mailbox.id, include_hidden=True):
                column = "Hidden" if folder.hidden else _COLUMNS.get(folder.container_class)
                if column is not None:
                    counts[column] += store.count_items(mailbox.id, folder.id)
            state = _STATE_NAMES[store.quota_state(mailbox.id)]
            ctx.print(f"{mailbox.id:<22} {_kb(store.mailbox_size(mailbox.id)):>12}  {state:<20}"
                      + "".join(f" {counts[c]:>8,}" for c in columns))
    return 0


# --- quota ------------------------------------------------------------------------


def run_quota(ctx) -> int:
    args = ctx.args
    values = {"issue_warning_kb": args.warning, "prohibit_send_kb": args.prohibit_send,
              "prohibit_send_receive_kb": args.prohibit_send_receive}
    given = {k: v for k, v in values.items() if v is not None}
    if args.clear and given:
        raise CliError("--clear goes back to the mailbox store's limits; give it alone")
    user = _user(ctx, args.user)
    with _store(ctx) as store:
        mailbox, _ = provision_mailbox(store, user)
        if args.clear:
            store.set_mailbox_quotas(mailbox.id, None)
        elif given:
            current = store.get_mailbox(mailbox.id).quotas or Quotas()
            merged = {name: getattr(current, name) for name in values}
            merged.update({k: v or None for k, v in given.items()})
            store.set_mailbox_quotas(mailbox.id, Quotas(**merged))
        mailbox = store.get_mailbox(mailbox.id)
        quotas = store.effective_quotas(mailbox.id)
        source = "mailbox store defaults (registry.ini)" if mailbox.quotas is None else "this mailbox's own limits"
        ctx.print(f"{mailbox.id} ({mailbox.smtp_address})")
        ctx.print(f"  limits from              {source}")
        ctx.print(f"  IssueWarningQuota        {_limit(quotas.issue_warning_kb)}")
        ctx.print(f"  ProhibitSendQuota        {_limit(quotas.prohibit_send_kb)}")
        ctx.print(f"  ProhibitSendReceiveQuota {_limit(quotas.prohibit_send_receive_kb)}")
        ctx.print(f"  size                     {_kb(store.mailbox_size(mailbox.id))}")
        ctx.print(f"  state                    {_STATE_WORDS[store.quota_state(mailbox.id)]}")
    return 0


def configure_quota(parser) -> None:
    parser.add_argument("user", help=r"CONTOSO\alice, alice@contoso.com or alice")
    parser.add_argument("--warning", type=non_negative, metavar="KB", help="IssueWarningQuota (0 = no limit)")
    parser.add_argument("--prohibit-send", type=non_negative, metavar="KB", help="ProhibitSendQuota (0 = no limit)")
    parser.add_argument("--prohibit-send-receive", type=non_negative, metavar="KB",
                        help="ProhibitSendReceiveQuota (0 = no limit)")
    parser.add_argument("--clear", action="store_true",
                        help="use the mailbox store's limits again (\"Use mailbox store defaults\")")


# --- the command ------------------------------------------------------------------


def run(ctx) -> int:
    return {"seed": run_seed, "list": run_list, "quota": run_quota}[ctx.args.action](ctx)


def configure(parser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    configure_seed(sub.add_parser("seed", help="fill a mailbox with realistic generated items"))
    sub.add_parser("list", help="every mailbox: size, quota state, item counts")
    configure_quota(sub.add_parser("quota", help="show or set one mailbox's storage limits"))


@hookimpl
def register_cli_commands():
    return [CliCommand("mailbox", "manage mailboxes in the store (seed, list, quota)", configure, run)]
