"""``plugins``, ``pipeline``, ``eventlog`` and ``request``: see what the host does and why."""
from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone

from host.cli import CliCommand, CliError
from host.hookspecs import hookimpl


def run_plugins(ctx) -> int:
    from host.plugins import plugin_infos

    for info in plugin_infos(ctx.pm):
        ctx.print(f"{info.name:<22} {info.module:<32} {info.distribution} {info.version}")
        ctx.print(f"{'':<22} hooks: {', '.join(info.hooks)}")
    return 0


def run_pipeline(ctx) -> int:
    from host.pipeline import ordered_stages

    for number, (stage, plugin) in enumerate(ordered_stages(ctx.pm), 1):
        module = getattr(stage.factory, "__module__", "?")
        ctx.print(f"{number:>2}. {stage.name:<16} plugin {plugin:<18} {module}.{stage.factory.__name__}")
    return 0


def run_eventlog(ctx) -> int:
    from host.eventlog import format_event

    args = ctx.args
    since = datetime.now(timezone.utc) - timedelta(hours=args.hours) if args.hours else None
    events = ctx.eventlog.query(source=args.source, level=args.level, event_id=args.id, since=since,
                                text=args.grep, limit=args.max)
    for event in events:
        if args.details:
            ctx.print(format_event(event) + "\n")
        else:
            first = event.text.splitlines()[0] if event.text else ""
            ctx.print(f"{event.time.astimezone():%Y-%m-%d %H:%M:%S}  {event.level.value:<11} {event.source:<18} "
                      f"{event.event_id:>5}  {first}")
    if not events:
        ctx.print("(no events)")
    return 0


def run_request(ctx) -> int:
    """One request through the whole pipeline in-process, without opening a listener."""
    from webob import Request

    from host.config import ConfigError
    from host.listeners import Endpoint
    from host.service import WebService
    from host.testing import InProcessTls

    try:
        service = WebService(ctx.registry_path, ctx.data_dir, pm=ctx.pm, announce=lambda line: None)
    except ConfigError as exc:
        raise CliError(str(exc), 2) from None
    args = ctx.args
    site = service.config.sites.get(args.site)
    if site is None:
        raise CliError(f"there is no site {args.site}")
    bindings = site.secure_bindings if args.https else site.bindings
    if not bindings:
        raise CliError(f"site {args.site} has no {'https' if args.https else 'http'} binding")
    endpoint = Endpoint("https" if args.https else "http", bindings[0].listen_ip, bindings[0].port)
    req = Request.blank(args.path, method=args.method, environ={"host.endpoint": endpoint, "REMOTE_ADDR": "127.0.0.1",
                                                                  "SERVER_PORT": str(endpoint.port)})
    if args.https:
        ctx.print("note: --https only marks the request as arriving on the SSL binding; there is no TLS "
                  "connection, so client certificates cannot be negotiated in-process.")
        req.environ["host.tls"] = InProcessTls()
    if args.user:
        credentials = f"{args.user}:{args.password or ''}".encode()
        req.headers["Authorization"] = "Basic " + base64.b64encode(credentials).decode()
    response = req.get_response(service)
    log = req.environ["host.log"]
    ctx.print(f"{response.status}  (sc-status {response.status_code}, sc-substatus {log.substatus}, "
              f"sc-win32-status {log.win32_status})")
    for name, value in response.headerlist:
        ctx.print(f"{name}: {value}")
    vdir = req.environ.get("host.vdir")
    if vdir is not None:
        ctx.print(f"vdir {vdir.url_path} [{vdir.path}], handler {req.environ.get('host.handler', '-')}")
    service.stop()
    return 0


def configure_eventlog(parser) -> None:
    parser.add_argument("--source", help='e.g. "Server ActiveSync" or "EASLab Host"')
    parser.add_argument("--level", choices=["error", "warning", "information"])
    parser.add_argument("--id", type=int, help="event ID")
    parser.add_argument("--hours", type=float, help="only the last N hours")
    parser.add_argument("--grep", help="only events whose text contains this")
    parser.add_argument("--max", type=int, default=50, help="at most N events (default 50)")
    parser.add_argument("--details", action="store_true", help="Event Viewer's full layout")


def configure_request(parser) -> None:
    parser.add_argument("path", help="URL path, e.g. /Exchange/alice/Inbox/")
    parser.add_argument("--method", default="GET")
    parser.add_argument("--site", type=int, default=1)
    parser.add_argument("--https", action="store_true", help="as if on the site's SSL binding")
    parser.add_argument("--user", help=r"Basic credentials, e.g. CONTOSO\alice")
    parser.add_argument("--password")


@hookimpl
def register_cli_commands():
    nothing = lambda parser: None  # noqa: E731 - commands without options
    return [
        CliCommand("plugins", "list plugins, their versions and hooks", nothing, run_plugins),
        CliCommand("pipeline", "list the request pipeline's stages in order and who provides each", nothing,
                   run_pipeline),
        CliCommand("eventlog", "show the event log, newest first", configure_eventlog, run_eventlog),
        CliCommand("request", "send one request through the pipeline in-process and show the result",
                   configure_request, run_request),
    ]
