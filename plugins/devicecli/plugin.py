"""``python -m host device``: run a simulated phone against the lab, and manage its settings.

    python -m host device list
    python -m host device show wm5
    python -m host device trust wm5 root.cer          # AddRootCert.exe
    python -m host device run wm5 --user CONTOSO\\alice --url https://mail.contoso.com/Microsoft-Server-ActiveSync
    python -m host device run ios --user CONTOSO\\alice --email alice@contoso.com

The device is a client: it reads registry.ini only for what a phone in the
lab's network would find anyway (the lab DNS server's address and the ports
the lab's firewall publishes), never to decide whether it succeeds.
"""
from __future__ import annotations

import getpass

from device.profiles import (
    DeviceRun,
    DeviceSettings,
    DeviceSettingsError,
    LabNetwork,
    ProfileError,
    folder_types,
    load_profile,
    profile_names,
)
from host import hookimpl
from host.cli import CliCommand, CliError
from host.metabase import ConversionError
from plugins.labdns.zones import parse_listen_address

MARKS = {True: "[ OK ]", False: "[FAIL]", None: "[SKIP]"}


def configure(parser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("list", help="the device profiles")
    show = sub.add_parser("show", help="one profile's behaviour and the device's settings")
    show.add_argument("profile")
    trust = sub.add_parser("trust", help="add a root certificate to the device's store (AddRootCert.exe)")
    trust.add_argument("profile")
    trust.add_argument("file", help="the certificate, PEM or DER (python -m host cert export-root root.cer)")
    run = sub.add_parser("run", help="run the device's EAS conversation: Autodiscover, OPTIONS, Provision, "
                                     "FolderSync, Sync, Ping")
    run.add_argument("profile")
    run.add_argument("--user", required=True, help="as typed into the phone, e.g. CONTOSO\\alice")
    run.add_argument("--password", help="prompted for when not given")
    run.add_argument("--url", help="the server address, e.g. https://mail.contoso.com/Microsoft-Server-ActiveSync")
    run.add_argument("--email", help="the e-mail address; without --url the device finds its server with it "
                                     "(Autodiscover)")
    run.add_argument("--dns", metavar="IP:PORT", help="the lab DNS server (default: ListenAddress in registry.ini)")
    run.add_argument("--sync", metavar="FOLDERS", help="what to synchronize, e.g. \"Inbox, Contacts\" (the "
                                                        "device's sync options; default: the profile's)")
    run.add_argument("--heartbeat", type=int, default=60, metavar="SECONDS",
                     help="the Ping heartbeat the lab asks for (default 60; the profile says where the real "
                          "device starts)")


def run(ctx) -> int:
    args = ctx.args
    if args.action == "list":
        for name in profile_names():
            profile = load_profile(name)
            ctx.print(f"{name:<12} {profile.display_name:<34} EAS {','.join(profile.versions)}")
        return 0
    try:
        profile = load_profile(args.profile)
        settings = DeviceSettings(ctx.data_dir, profile)
        if args.action == "show":
            _show(ctx, settings)
            return 0
        if args.action == "trust":
            cert, path = settings.add_root(args.file)
            ctx.print(f"added {cert.subject.rfc4514_string()} to the trusted roots of {profile.name} ({path})")
            return 0
        return _run(ctx, settings)
    except (ProfileError, DeviceSettingsError) as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"{exc.filename or ''}: {exc.strerror or exc}") from None


def _show(ctx, settings: DeviceSettings) -> None:
    profile = settings.profile
    ctx.print(f"{profile.display_name} ({profile.name}), from {profile.source}")
    ctx.print(f"  User-Agent {profile.user_agent}, DeviceType {profile.device_type}, {profile.model}, {profile.os}")
    ctx.print(f"  EAS versions {', '.join(profile.versions)}; authentication {profile.auth}; "
              f"Autodiscover {'yes' if profile.autodiscover else 'no'}; provisions "
              f"{'yes' if profile.provision else 'no'}")
    ctx.print(f"  wildcard certificates {'accepted' if profile.wildcard_names else 'refused'}; answers a "
              f"certificate request after the handshake: {'yes' if profile.post_handshake_auth else 'no'}")
    ctx.print(f"  direct push {'yes, heartbeat starts at ' + str(profile.heartbeat) + ' s' if profile.ping else 'no'}")
    ctx.print(f"  settings {settings.registry_file}; certificate checks {settings.certificate_checks()}; "
              f"roots added: {len(settings.roots())}")


def _run(ctx, settings: DeviceSettings) -> int:
    args = ctx.args
    try:
        dns = tuple(parse_listen_address(args.dns)) if args.dns else None
    except ConversionError as exc:
        raise CliError(f"--dns {exc}") from None
    if not (args.url or args.email):
        raise CliError("give the server address (--url) or, for Autodiscover, the e-mail address (--email)")
    folders = folder_types(args.sync, "--sync") if args.sync else ()
    password = args.password if args.password is not None else getpass.getpass(f"Password for {args.user}: ")
    network = LabNetwork.from_config(ctx.valid_config(), dns)
    device = DeviceRun(settings, network, args.user, password, url=args.url or "", email=args.email or "",
                       heartbeat=args.heartbeat, sync_folders=folders)
    profile = settings.profile
    ctx.print(f"{profile.display_name} ({profile.name}): User-Agent {profile.user_agent}, "
              f"DeviceType {profile.device_type}")
    failed = False
    for step in device.steps():
        ctx.print(f"{MARKS[step.ok]} {step.name:<12} {step.lines[0] if step.lines else ''}")
        for line in step.lines[1:]:
            ctx.print(f"{'':20}{line}")
        failed = failed or step.ok is False
    ctx.print(f"Device settings: {settings.registry_file}; certificate checks {device.checks}")
    if failed:
        ctx.print("The device shows:")
        ctx.print(f"  {device.shown}")
        return 1
    ctx.print("Synchronization complete.")
    return 0


@hookimpl
def register_cli_commands():
    return [CliCommand("device", "simulated phones (device profiles): list, show, trust a root, run", configure,
                       run)]
