"""The connectivity analyzer's hooks: the ``analyze`` command and the ``exrca.dll`` page handler."""
from __future__ import annotations

from host import hookimpl
from host.cli import CliCommand
from host.scriptmaps import Handler

from . import cli, page


@hookimpl
def register_cli_commands():
    return [CliCommand("analyze", "the Remote Connectivity Analyzer's tests, run from inside the lab",
                       cli.configure, cli.run)]


@hookimpl
def register_handlers():
    return [Handler("exrca.dll", page.make_app, "the Remote Connectivity Analyzer as a web page")]
