"""``user add|list|show|passwd|set|remove``: the lab's Active Directory Users and Computers."""
from __future__ import annotations

import getpass

from host.cli import CliCommand, CliError
from host.hookspecs import hookimpl


def _password(ctx) -> str:
    if ctx.args.password:
        return ctx.args.password
    first = getpass.getpass("Password: ")
    if getpass.getpass("Confirm password: ") != first:
        raise CliError("the passwords do not match")
    return first


def _show(ctx, user) -> None:
    ctx.print(f"{user.logon_name}")
    ctx.print(f"  displayName         {user.display_name}")
    ctx.print(f"  userPrincipalName   {user.upn}")
    ctx.print("  proxyAddresses      " + "\n                      ".join(user.proxy_addresses))
    ctx.print(f"  homeMDB server      {user.home_server}")
    ctx.print(f"  ActiveSync          {'enabled' if user.activesync_enabled else 'disabled'}")
    ctx.print(f"  account             {'enabled' if user.account_enabled else 'disabled'}")


def run(ctx) -> int:
    from host.directory import DirectoryError

    directory = ctx.directory
    args = ctx.args
    try:
        if args.action == "list":
            ctx.print(f"{'Logon name':<24} {'Display name':<20} {'Primary SMTP':<28} {'Home server':<12} EAS")
            for user in directory.users():
                ctx.print(f"{user.logon_name:<24} {user.display_name:<20} {user.primary_smtp:<28} "
                          f"{user.home_server:<12} {'yes' if user.activesync_enabled else 'no'}")
            return 0
        if args.action == "add":
            user = directory.add_user(args.logon, _password(ctx), display_name=args.display_name, upn=args.upn,
                                      smtp=args.smtp or None, home_server=args.home_server)
            _show(ctx, user)
            return 0
        if args.action == "passwd":
            directory.set_password(args.logon, _password(ctx))
            ctx.print(f"password of {args.logon} changed")
            return 0
        if args.action == "remove":
            directory.remove_user(args.logon)
            ctx.print(f"removed {args.logon}")
            return 0
        if args.action == "set":
            attrs = {}
            for name in ("display_name", "upn", "home_server"):
                if getattr(args, name) is not None:
                    attrs[name] = getattr(args, name)
            if args.proxy_addresses:
                attrs["proxy_addresses"] = args.proxy_addresses
            for flag in ("activesync", "account"):
                value = getattr(args, flag)
                if value is not None:
                    attrs[f"{flag}_enabled"] = value == "enabled"
            user = directory.update_user(args.logon, **attrs)
            _show(ctx, user)
            return 0
        user = directory.find(args.logon)
        if user is None:
            raise CliError(f"no such user {args.logon}")
        _show(ctx, user)
        return 0
    except DirectoryError as exc:
        raise CliError(str(exc)) from None


def configure(parser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("list", help="all users")
    show = sub.add_parser("show", help="one user's attributes")
    add = sub.add_parser("add", help="create a user (and the NT hash of the password)")
    passwd = sub.add_parser("passwd", help="set a user's password")
    setp = sub.add_parser("set", help="change attributes")
    remove = sub.add_parser("remove", help="delete a user")
    for p in (show, add, passwd, setp, remove):
        p.add_argument("logon", help=r"CONTOSO\carol, carol@contoso.com or carol")
    for p in (add, passwd):
        p.add_argument("--password", help="the password (prompted for when left out)")
    for p in (add, setp):
        p.add_argument("--display-name")
        p.add_argument("--upn")
        p.add_argument("--home-server", help="the homeMDB server name")
    add.add_argument("--smtp", action="append", metavar="ADDRESS", help="SMTP address; the first is primary (repeat)")
    setp.add_argument("--proxy-addresses", nargs="+", metavar="ADDR",
                      help='all proxy addresses, e.g. "SMTP:carol@contoso.com" "smtp:c@fabrikam.com"')
    setp.add_argument("--activesync", choices=["enabled", "disabled"])
    setp.add_argument("--account", choices=["enabled", "disabled"])


@hookimpl
def register_cli_commands():
    return [CliCommand("user", "manage the lab directory's users (add, list, show, passwd, set, remove)", configure, run)]
