"""The handler stage: the vdir's ``ScriptMaps`` pick the handler, as IIS 6 picks an ISAPI.

In IIS 6's order: a wildcard application map (``*``) takes every request of
the vdir (``massync.dll`` on Microsoft-Server-ActiveSync); a URL naming a
registered ISAPI DLL directly runs it where Execute is allowed
(``/exchweb/bin/auth/owaauth.dll``); an extension map runs its handler; what
remains goes to the static-file handler. A map naming a DLL no plugin
provides behaves as an ISAPI that the Web Service Extensions list does not
allow: 404.2. Permissions as on IIS: script engines need Script or Execute,
other executables need Execute (403.1), static files need Read (403.2).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from host import servervars
from host.errors import ERROR_ACCESS_DENIED, ERROR_FILE_NOT_FOUND, HttpError
from host.hookspecs import hookimpl
from host.metabase import ACCESS_FLAGS, ScriptMap
from host.pipeline import HANDLER, PipelineStage
from host.vdirs import translate

if TYPE_CHECKING:  # pragma: no cover
    from host.service import WebService

READ = ACCESS_FLAGS["AccessRead"]
EXECUTE = ACCESS_FLAGS["AccessExecute"]
SCRIPT = ACCESS_FLAGS["AccessScript"]
STATIC_FILE = "staticfile"


@dataclass(frozen=True)
class Handler:
    """A request handler that script maps name.

    :param name: the ISAPI-style name (``massync.dll``), compared case-insensitively.
    :param factory: ``factory(service) -> wsgi_app``, called once at start-up.
    :param description: what ``python -m host plugins`` shows.
    """

    name: str
    factory: Callable[["WebService"], Callable]
    description: str = ""


def choose(vdir, url: str, verb: str) -> tuple[str, ScriptMap | None]:
    """The handler name for this request and the map that chose it (None: direct or static)."""
    maps: list[ScriptMap] = vdir.get("ScriptMaps")
    for entry in maps:
        if entry.extension == "*" and entry.allows(verb):
            return entry.handler_name, entry
    last = url.rstrip("/").rsplit("/", 1)[-1]
    extension = "." + last.rsplit(".", 1)[1].casefold() if "." in last else ""
    if extension in (".dll", ".exe"):
        return last.casefold(), None
    for entry in maps:
        if extension and entry.extension == extension and entry.allows(verb):
            return entry.handler_name, entry
    return STATIC_FILE, None


def check_permission(vdir, script_map: ScriptMap | None, direct: bool) -> None:
    access = vdir.get("AccessFlags")
    if script_map is not None:
        needed = SCRIPT | EXECUTE if script_map.flags & ScriptMap.SCRIPT_ENGINE else EXECUTE
        if not access & needed:
            raise HttpError(403, 1, ERROR_ACCESS_DENIED)
    elif direct and not access & EXECUTE:
        raise HttpError(403, 1, ERROR_ACCESS_DENIED)


def handler_stage(next_app, service):
    def app(environ, start_response):
        vdir = environ["host.vdir"]
        name, script_map = choose(vdir, environ["host.url"], environ.get("REQUEST_METHOD", "GET"))
        handler = service.handlers.get(name)
        direct = script_map is None and name != STATIC_FILE
        if handler is None:
            if direct:  # an unknown .dll in the URL is simply a file that is not there
                raise HttpError(404, 0, ERROR_FILE_NOT_FOUND)
            raise HttpError(404, 2, 1260, detail=f'No plugin provides the ISAPI extension "{name}" named by '
                                                 f"ScriptMaps of [{vdir.path}].")
        check_permission(vdir, script_map, direct)
        if script_map is not None and script_map.flags & ScriptMap.CHECK_PATH_INFO:
            folder = environ.get("host.content_folder")
            if folder is None or not translate(folder, environ.get("PATH_INFO", "")).is_file():
                raise HttpError(404, 0, ERROR_FILE_NOT_FOUND)
        servervars.populate(environ)
        environ["host.handler"] = name
        return handler(environ, start_response)

    return app


@hookimpl(trylast=True)
def register_pipeline_stages():
    return [PipelineStage(HANDLER, handler_stage)]
