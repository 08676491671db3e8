"""A third-party plugin, installed like any package: a handler and a CLI command.

Map it in registry.ini with ``"ScriptMaps"=multi:"*,C:\\\\lab\\\\hello.dll,1"``.
"""
from host import hookimpl
from host.cli import CliCommand
from host.scriptmaps import Handler


def hello(environ, start_response):
    body = f"Hello, {environ.get('LOGON_USER') or 'anonymous'}, from {environ['APPL_MD_PATH']}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


@hookimpl
def register_handlers():
    return [Handler("hello.dll", lambda service: hello, "says hello")]


@hookimpl
def register_cli_commands():
    def run(ctx):
        ctx.print("hello from a third-party plugin")
        return 0

    return [CliCommand("hello", "say hello", lambda parser: None, run)]
