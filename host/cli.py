"""``python -m host``: the command line, its subcommands contributed by plugins.

Every subcommand, the built-in ones included, comes from a
``register_cli_commands`` hook. Common options (``--registry``, ``--data``)
are on every subcommand. Errors print one line and exit non-zero; an invalid
registry.ini exits with status 2.
"""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Callable

import platformdirs

from host.config import ConfigError, HostConfig, load_config
from host.metabase import PropertyTable
from host.plugins import collect, make_plugin_manager


@dataclass(frozen=True)
class CliCommand:
    """A subcommand of ``python -m host``.

    :param name: the word after ``python -m host`` (``user``).
    :param help: one line for ``--help``.
    :param configure: adds arguments (and sub-subcommands) to its parser.
    :param run: ``run(ctx) -> exit status``.
    """

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[["CliContext"], int]


class CliError(Exception):
    """A failure the CLI reports as one line and a non-zero exit status."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def default_data_dir() -> Path:
    """Per-user data directory (directory, PKI, logs, mailboxes); EASLAB_DATA overrides."""
    return Path(os.environ.get("EASLAB_DATA") or platformdirs.user_data_dir("easlab", appauthor=False))


class CliContext:
    """What a subcommand needs, built lazily from the common options."""

    def __init__(self, args: argparse.Namespace, pm) -> None:
        from host.service import default_registry_path

        self.args = args
        self.pm = pm
        self.registry_path = Path(args.registry or os.environ.get("EASLAB_REGISTRY") or default_registry_path())
        self.data_dir = Path(args.data) if args.data else default_data_dir()
        self.out = sys.stdout

    def print(self, *parts: object) -> None:
        print(*parts, file=self.out)

    @cached_property
    def table(self) -> PropertyTable:
        return PropertyTable(collect(self.pm.hook.register_registry_properties()))

    def load_config(self) -> HostConfig:
        """The configuration, with its issues (not raised)."""
        try:
            return load_config(self.registry_path, self.table)
        except OSError as exc:
            raise CliError(f"cannot read {self.registry_path}: {exc.strerror or exc}", 2) from None

    def valid_config(self) -> HostConfig:
        config = self.load_config()
        if config.errors:
            raise CliError(str(ConfigError(config.errors)), 2)
        return config

    @cached_property
    def directory(self):
        from host.directory import Directory

        self.data_dir.mkdir(parents=True, exist_ok=True)
        return Directory.open(self.data_dir)

    @cached_property
    def pki(self):
        from host.pki import LabPKI

        return LabPKI(self.data_dir / "pki")

    @cached_property
    def eventlog(self):
        from host.eventlog import EventLog

        self.data_dir.mkdir(parents=True, exist_ok=True)
        return EventLog(self.data_dir / "eventlog.db")


def common_options() -> argparse.ArgumentParser:
    """--registry and --data, accepted anywhere on the command line."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--registry", metavar="PATH", help="registry.ini to use (default: the one shipped with the "
                                                          "project; env EASLAB_REGISTRY)")
    common.add_argument("--data", metavar="DIR", help="data directory (default: per-user; env EASLAB_DATA)")
    return common


def build_parser(commands: list[CliCommand]) -> argparse.ArgumentParser:
    common = common_options()
    parser = argparse.ArgumentParser(
        prog="python -m host", parents=[common],
        description="An IIS 6-like host that plays an Exchange ActiveSync server, configured by registry.ini.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for command in sorted(commands, key=lambda c: c.name):
        child = sub.add_parser(command.name, help=command.help, description=command.help, parents=[common])
        command.configure(child)
        child.set_defaults(_command=command)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        pm = make_plugin_manager()
    except Exception as exc:  # a broken plugin: say which, without a traceback
        print(f"error: cannot load plugins: {exc}", file=sys.stderr)
        return 1
    commands = collect(pm.hook.register_cli_commands())
    parser = build_parser(commands)
    common, rest = common_options().parse_known_args(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(rest)
    args.registry, args.data = common.registry, common.data
    ctx = CliContext(args, pm)
    try:
        return args._command.run(ctx) or 0
    except CliError as exc:
        print(f"error: {exc}" if exc.status != 2 else str(exc), file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # "python -m host ... | head": the reader left, which is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
