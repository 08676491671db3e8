"""``cert list|show|issue-server|issue-client|export-root``: the lab's certificate authority.

A site uses a certificate by its thumbprint in ``SSLCertHash``, as IIS 6 did;
``adsutil set W3SVC/1/SSLCertHash <thumbprint>`` switches it without a restart.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from host.cli import CliCommand, CliError
from host.hookspecs import hookimpl


def _dates(args) -> dict:
    now = datetime.now(timezone.utc)
    if args.expired:
        return {"not_before": now - timedelta(days=400), "not_after": now - timedelta(days=1)}
    if args.not_yet_valid:
        return {"not_before": now + timedelta(days=30), "not_after": now + timedelta(days=400)}
    return {"days": args.days}


def _print_cert(ctx, cert) -> None:
    ctx.print(f"{cert.thumbprint}  {cert.kind:<12} {cert.not_after:%Y-%m-%d}  {cert.subject}"
              + (f"  [{', '.join(cert.names)}]" if cert.names else ""))


def run(ctx) -> int:
    args = ctx.args
    pki = ctx.pki
    pki.ensure_root()
    if args.action == "list":
        ctx.print(f"{'Thumbprint':<40}  {'Kind':<12} {'Expires':<10}  Subject")
        for cert in pki.list():
            _print_cert(ctx, cert)
        return 0
    if args.action == "show":
        cert = pki.find(args.thumbprint)
        if cert is None:
            raise CliError(f"no certificate {args.thumbprint} in the lab store")
        _print_cert(ctx, cert)
        ctx.print(f"  issuer      {cert.issuer_name}\n  valid       {cert.not_before:%Y-%m-%d %H:%M} to "
                  f"{cert.not_after:%Y-%m-%d %H:%M} UTC\n  certificate {cert.cert_path}\n  chain       {cert.chain_path}")
        return 0
    if args.action == "export-root":
        pki.export_root(args.file, encoding=args.format)
        ctx.print(f"wrote the lab root CA to {args.file}; import it into a device's trusted root store")
        return 0
    issuer = "untrusted" if args.untrusted else "lab"
    if args.action == "issue-server":
        cert = pki.issue_server(args.names, ips=args.ip or (), issuer=issuer,
                                send_intermediate=not args.no_intermediate, **_dates(args))
    else:
        cert = pki.issue_client(args.upn, issuer=issuer, **_dates(args))
    _print_cert(ctx, cert)
    return 0


def configure(parser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("list", help="every certificate in the lab store, with thumbprints for SSLCertHash")
    show = sub.add_parser("show", help="one certificate")
    show.add_argument("thumbprint")
    export = sub.add_parser("export-root", help="write the lab root CA certificate (for a device's trust store)")
    export.add_argument("file")
    export.add_argument("--format", choices=["pem", "der"], default="pem")
    server = sub.add_parser("issue-server", help="issue a server certificate (wildcards like *.contoso.com allowed)")
    server.add_argument("names", nargs="+", help="DNS names; the first is the subject CN")
    server.add_argument("--ip", action="append", help="an IP address for the subject alternative names (repeat)")
    server.add_argument("--no-intermediate", action="store_true",
                        help="the site sends the certificate without its issuing CA, as IIS does when the "
                             "intermediate is missing from the machine's store")
    client = sub.add_parser("issue-client", help="issue a user certificate (UPN in the SAN, as AD CS does)")
    client.add_argument("upn", help="e.g. alice@contoso.com")
    for p in (server, client):
        p.add_argument("--days", type=int, default=730 if p is server else 365)
        p.add_argument("--expired", action="store_true", help="valid dates entirely in the past")
        p.add_argument("--not-yet-valid", action="store_true", help="valid dates entirely in the future")
        p.add_argument("--untrusted", action="store_true", help="signed by a root CA that nothing trusts")


@hookimpl
def register_cli_commands():
    return [CliCommand("cert", "the lab PKI: list, show, issue-server, issue-client, export-root", configure, run)]
