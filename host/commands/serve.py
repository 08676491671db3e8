"""``serve``: run the host until Ctrl-C (or SIGTERM), reloading registry.ini on change."""
from __future__ import annotations

import signal
import sys
import threading

from host.cli import CliCommand, CliError

THREAD_STACK_SIZE = 1024 * 1024
from host.hookspecs import hookimpl


def configure(parser) -> None:
    parser.add_argument("--threads", type=int, default=16, metavar="N",
                        help="worker threads each listener starts with (default 16)")
    parser.add_argument("--max-threads", type=int, default=1200, metavar="N",
                        help="most worker threads per listener; each held direct-push Ping keeps one "
                             "(default 1200: a thousand devices and room for everyone else)")


def run(ctx) -> int:
    from host.config import ConfigError
    from host.reload import ConfigWatcher
    from host.service import WebService

    def announce(line: str) -> None:
        print(line, flush=True)

    # A held Ping keeps a thread; a small stack lets a thousand of them live in little memory.
    threading.stack_size(THREAD_STACK_SIZE)
    try:
        service = WebService(ctx.registry_path, ctx.data_dir, pm=ctx.pm, announce=announce, threads=ctx.args.threads,
                             max_threads=ctx.args.max_threads)
    except ConfigError as exc:
        raise CliError(str(exc), 2) from None
    except OSError as exc:
        raise CliError(f"cannot read {ctx.registry_path}: {exc.strerror or exc}", 2) from None
    for warning in service.config.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"Configuration: {ctx.registry_path}\nData directory: {ctx.data_dir}", flush=True)
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    service.start()
    if not service.endpoints:
        service.stop()
        raise CliError("no binding could be opened; see the messages above")
    watcher = ConfigWatcher(ctx.registry_path, service.reload)
    watcher.start()
    print("Demo users: CONTOSO\\alice and CONTOSO\\bob, password P@ssw0rd. Press Ctrl-C to stop.", flush=True)
    stopping.wait()
    print("Stopping...", flush=True)
    watcher.stop()
    service.stop()
    return 0


@hookimpl
def register_cli_commands():
    return [CliCommand("serve", "run the host on the bindings of registry.ini", configure, run)]
