"""``python -m host analyze activesync``: the connectivity analyzer from the command line.

    python -m host analyze activesync --email alice@contoso.com --user CONTOSO\\alice
    python -m host analyze activesync --email alice@contoso.com --user CONTOSO\\alice \\
        --url https://mail.contoso.com/Microsoft-Server-ActiveSync --full

It reads the same registry.ini and data directory as the running host (the
lab DNS address, the published ports, the lab root, the event log) and talks
to the host over the network like a client. Exit status 0 when the test
succeeded (warnings included), 1 when a step failed.
"""
from __future__ import annotations

import getpass

from host.cli import CliError

from .activesync import analyze_activesync
from .lab import Lab, Target


def configure(parser) -> None:
    sub = parser.add_subparsers(dest="test", metavar="TEST", required=True)
    eas = sub.add_parser("activesync", help="the Remote Connectivity Analyzer's Exchange ActiveSync test")
    eas.add_argument("--email", required=True, help="the mailbox's e-mail address, e.g. alice@contoso.com")
    eas.add_argument("--user", required=True, help="domain\\user name or UPN, e.g. CONTOSO\\alice")
    eas.add_argument("--password", help="prompted for when not given")
    eas.add_argument("--url", help="skip Autodiscover and test this URL, e.g. "
                                   "https://mail.contoso.com/Microsoft-Server-ActiveSync")
    eas.add_argument("--ignore-ssl-trust", action="store_true",
                     help="ExRCA's \"Ignore Trust for SSL\": an untrusted root is a warning, not a failure")
    eas.add_argument("--full", action="store_true",
                     help="Test-ActiveSyncConnectivity: a full sync of the mailbox, direct push with a test message")


def run(ctx) -> int:
    args = ctx.args
    password = args.password if args.password is not None else getpass.getpass(f"Password for {args.user}: ")
    if "@" not in args.email:
        raise CliError(f"--email {args.email!r} is not an e-mail address")
    lab = Lab.open(ctx.valid_config(), ctx.data_dir, pki=ctx.pki, eventlog=ctx.eventlog)
    target = Target(args.email, args.user, password, url=args.url or "", ignore_trust=args.ignore_ssl_trust)
    report = analyze_activesync(lab, target, full=args.full)
    ctx.print(report.text())
    return 1 if report.result == "failure" else 0
