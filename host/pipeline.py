"""The request pipeline: stages in IIS order, each a factory ``stage(next_app, service)``.

The order is declared once, here, by name. A plugin provides a stage for one
of these names through ``register_pipeline_stages``, or adds its own stage
right after a named one (``after="authentication"``), as a trainee would add
an ISAPI filter. Stages read the configuration snapshot of the request from
``environ["host.config"]``, so a reload never changes a request midway.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from host.plugins import collect

if TYPE_CHECKING:  # pragma: no cover
    from host.service import WebService

WSGIApp = Callable  # (environ, start_response) -> iterable of bytes

# The positions, outermost first. The W3C log wraps everything so it sees the
# final status; the handler chosen by the script map is innermost.
W3C_LOG = "w3clog"
ERROR_PAGES = "errorpages"
SITE_SELECTION = "sites"
REQUEST_FILTERING = "filtering"
VDIR_RESOLUTION = "vdirs"
IP_RESTRICTIONS = "iprestrictions"
SSL = "sslflags"
AUTHENTICATION = "authentication"
HTTP_REDIRECT = "redirect"
HANDLER = "scriptmaps"
STAGE_ORDER = (
    W3C_LOG,
    ERROR_PAGES,
    SITE_SELECTION,
    REQUEST_FILTERING,
    VDIR_RESOLUTION,
    IP_RESTRICTIONS,
    SSL,
    AUTHENTICATION,
    HTTP_REDIRECT,
    HANDLER,
)


class PipelineError(Exception):
    """The registered stages do not form a pipeline; the text names the plugins."""


@dataclass(frozen=True)
class PipelineStage:
    """A pipeline stage.

    :param name: one of :data:`STAGE_ORDER`, or a new name placed with ``after``.
    :param factory: ``factory(next_app, service) -> wsgi_app``.
    :param after: for a new name, the stage it follows.
    """

    name: str
    factory: Callable[[WSGIApp, "WebService"], WSGIApp]
    after: str | None = None


def ordered_stages(pm) -> list[tuple[PipelineStage, str]]:
    """The stages outermost first, each with the name of the plugin providing it."""
    provided: dict[str, tuple[PipelineStage, str]] = {}
    extra: list[tuple[PipelineStage, str]] = []
    for impl in pm.hook.register_pipeline_stages.get_hookimpls():
        for stage in collect([impl.function()]):
            if stage.name in STAGE_ORDER:
                if stage.name in provided:
                    raise PipelineError(
                        f'pipeline stage "{stage.name}" is provided by both plugin '
                        f'"{provided[stage.name][1]}" and plugin "{impl.plugin_name}"'
                    )
                provided[stage.name] = (stage, impl.plugin_name)
            elif stage.after in STAGE_ORDER or any(stage.after == e[0].name for e in extra):
                extra.append((stage, impl.plugin_name))
            else:
                raise PipelineError(
                    f'pipeline stage "{stage.name}" of plugin "{impl.plugin_name}" has no known position: '
                    f"name one of {', '.join(STAGE_ORDER)} or set after= to one of them"
                )
    missing = [name for name in STAGE_ORDER if name not in provided]
    if missing:
        raise PipelineError(
            f"no plugin provides the pipeline stage(s) {', '.join(missing)}; "
            "check EASLAB_PLUGINS and that the project is installed (pip install -e .)"
        )
    order: list[tuple[PipelineStage, str]] = []
    for name in STAGE_ORDER:
        order.append(provided[name])
        _append_followers(order, name, extra)
    return order


def _append_followers(order: list, name: str, extra: list) -> None:
    for stage, plugin in extra:
        if stage.after == name:
            order.append((stage, plugin))
            _append_followers(order, stage.name, extra)


def build_app(pm, service: "WebService") -> WSGIApp:
    """Compose the stages into one WSGI application, innermost first."""
    stages = ordered_stages(pm)
    app: WSGIApp = _no_handler
    for stage, _plugin in reversed(stages):
        app = stage.factory(app, service)
    return app


def _no_handler(environ, start_response):  # pragma: no cover - the handler stage never calls on
    raise RuntimeError("the handler stage passed a request on; it must answer every request")
