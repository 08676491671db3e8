"""Turning templates into responses, with the headers every OWA page carries.

Templates autoescape everything; the only markup that reaches a page unescaped
is a message body after nh3 cleaned it. On top of that the pages forbid
scripts outright (``script-src 'none'``: the light client needs none), so a
sanitizer miss still runs nothing. ``no-store`` keeps mail out of the browser
cache, which matters on the "Public or shared computer" forms-based logon.
"""
from __future__ import annotations

from datetime import datetime
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined
from webob import Response

STYLESHEET = "/exchweb/controls/owa.css"
SECURITY_HEADERS = (
    ("Content-Security-Policy", "default-src 'self'; script-src 'none'; style-src 'self'; "
                                "img-src 'self' data: https:; form-action 'self'; frame-ancestors 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Cache-Control", "no-store"),
    ("Pragma", "no-cache"),
)


@cache
def templates() -> Environment:
    env = Environment(loader=PackageLoader("plugins.owa.pages", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["when"] = format_when
    env.filters["kilobytes"] = format_kilobytes
    env.globals["stylesheet"] = STYLESHEET
    return env


def render(template: str, *, status: int = 200, **context) -> Response:
    body = templates().get_template(template).render(**context)
    response = Response(body=body.encode("utf-8"), status=status, content_type="text/html", charset="utf-8")
    response.headerlist.extend(SECURITY_HEADERS)
    return response


def redirect(location: str, headers: list[tuple[str, str]] = (), *, status: int = 303) -> Response:
    """303 after a form post, so reloading the next page does not post again; 302 for a GET."""
    response = Response(status=status, location=location)
    response.headerlist.extend(headers)
    return response


def format_when(moment: datetime | None) -> str:
    """As the light client showed dates: ``Mon 02/06/2003 10:00``, in the server's time zone."""
    if moment is None:
        return ""
    return moment.astimezone().strftime("%a %d/%m/%Y %H:%M")


def format_kilobytes(size: int) -> str:
    return f"{max(1, -(-size // 1024)):,} KB"
