"""``python -m host activesync``: partnerships and the mailbox log.

``device list|show|wipe|remove`` mirror Get-ActiveSyncDevice,
Clear-ActiveSyncDevice and Remove-ActiveSyncDevice; they read and write the
partnerships where MASSYNC keeps them, in the users' mailboxes, so a wipe
requested here reaches the device on its next request to the running host.
``mailboxlog USER on|off|show`` switches and prints the per-user mailbox log.
"""
from __future__ import annotations

import argparse
from contextlib import contextmanager
from typing import Iterator

from host.cli import CliCommand, CliContext, CliError
from plugins.activesync import mailboxlog
from plugins.activesync.partnership import WIPE_PENDING, Partnership, Partnerships, now


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="area", metavar="AREA", required=True)
    device = sub.add_parser("device", help="device partnerships (Get/Clear/Remove-ActiveSyncDevice)")
    actions = device.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="every partnership, or one user's")
    listing.add_argument("--user", help="only this user's devices (CONTOSO\\alice, alice or alice@contoso.com)")
    for name, text in (("show", "every detail of one partnership"),
                       ("wipe", "request a remote wipe, delivered on the device's next request"),
                       ("remove", "delete the partnership and the device's sync state")):
        action = actions.add_parser(name, help=text)
        action.add_argument("device_id", metavar="DEVICEID")
        action.add_argument("--user", help="the user, when several have a device with this id")
    log = sub.add_parser("mailboxlog", help="the per-user mailbox log of EAS requests and responses")
    log.add_argument("user", metavar="USER")
    log.add_argument("switch", choices=("on", "off", "show"))


@contextmanager
def _service(ctx: CliContext) -> Iterator[object]:
    from host.service import WebService

    ctx.valid_config()
    service = WebService(ctx.registry_path, ctx.data_dir, pm=ctx.pm, announce=lambda line: None)
    try:
        if service.mailstore is None:
            raise CliError("no mailbox store is installed (no plugin answers open_mailbox_store)")
        yield service
    finally:
        service.stop()


def _mailbox_partnerships(service, user_filter: str | None) -> Iterator[tuple[str, Partnerships]]:
    from plugins.activesync.directstore import DirectStoreAccess
    from plugins.activesync.plugin import push_hub

    wanted = None
    if user_filter:
        user = service.directory.find(user_filter)
        if user is None:
            raise CliError(f"no user {user_filter!r} in the directory")
        wanted = user.logon_name.casefold()
    for mailbox in service.mailstore.list_mailboxes():
        if wanted is not None and mailbox.id.casefold() != wanted:
            continue
        backend = DirectStoreAccess(service.mailstore, mailbox.id, push_hub(service))
        yield mailbox.id, Partnerships(backend, mailbox.id)


def _find(service, device_id: str, user: str | None) -> tuple[Partnerships, Partnership]:
    found = [(ps, p) for _, ps in _mailbox_partnerships(service, user) if (p := ps.find(device_id)) is not None]
    if not found:
        raise CliError(f"no partnership with DeviceId {device_id!r}" + (f" for {user}" if user else ""))
    if len(found) > 1:
        raise CliError(f"several users have a device {device_id!r}: " +
                       ", ".join(p.user for _, p in found) + "; name one with --user")
    return found[0]


def _device(ctx: CliContext) -> int:
    args = ctx.args
    with _service(ctx) as service:
        if args.action == "list":
            rows = [p for _, ps in _mailbox_partnerships(service, args.user) for p in ps.all()]
            ctx.print(f"{'User':<22} {'DeviceId':<34} {'DeviceType':<14} {'LastSync':<26} "
                      f"{'Policy':<16} {'Wipe'}")
            for p in rows:
                ctx.print(f"{p.user:<22} {p.device_id:<34} {p.device_type:<14} {p.last_sync:<26} "
                          f"{p.policy_status:<16} {p.wipe_status or '-'}")
            ctx.print(f"{len(rows)} partnership(s)")
            return 0
        partnerships, partnership = _find(service, args.device_id, args.user)
        if args.action == "show":
            for name, value in partnership.__dict__.items():
                ctx.print(f"{name:<20} {value}")
        elif args.action == "wipe":
            partnership.wipe_status = WIPE_PENDING
            partnership.wipe_requested = now().isoformat(timespec="seconds")
            partnership.wipe_acknowledged = ""
            partnerships.save(partnership)
            ctx.print(f"Remote wipe requested for {partnership.device_id} of {partnership.user}; "
                      "it is sent on the device's next request.")
        else:
            partnerships.remove(partnership)
            ctx.print(f"Removed the partnership of {partnership.device_id} for {partnership.user}.")
    return 0


def _mailbox_log(ctx: CliContext) -> int:
    args = ctx.args
    directory = ctx.directory
    user = directory.find(args.user)
    if user is None:
        raise CliError(f"no user {args.user!r} in the directory")
    if args.switch == "show":
        path = mailboxlog.log_path(ctx.data_dir, user.logon_name)
        state = "on" if mailboxlog.is_enabled(ctx.data_dir, user.logon_name) else "off"
        ctx.print(f"Mailbox logging for {user.logon_name} is {state}.")
        if path.exists():
            ctx.print(path.read_text(encoding="utf-8"))
        return 0
    mailboxlog.set_enabled(ctx.data_dir, user.logon_name, args.switch == "on")
    ctx.print(f"Mailbox logging for {user.logon_name} is {args.switch}.")
    return 0


def run(ctx: CliContext) -> int:
    return _device(ctx) if ctx.args.area == "device" else _mailbox_log(ctx)


COMMAND = CliCommand("activesync", "Exchange ActiveSync partnerships and mailbox logging", configure, run)
