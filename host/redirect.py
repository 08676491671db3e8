"""HttpRedirect: IIS 6's "redirection to a URL" on a vdir or directory.

Without EXACT_DESTINATION the rest of the requested URL (below the key that
holds the redirect) is appended to the target; CHILD_ONLY leaves the key's
own URL alone; PERMANENT answers 301, else 302, with IIS's "Object Moved" page.
"""
from __future__ import annotations

import html

from host.hookspecs import hookimpl
from host.pipeline import HTTP_REDIRECT, PipelineStage

_MOVED = ('<head><title>Object moved</title></head>\n<body><h1>Object Moved</h1>'
          'This object may be found <a HREF="{url}">here</a>.</body>\n')


def redirect_target(key, url: str) -> tuple[str, bool] | None:
    """The redirect for ``url`` under the nearest key that sets HttpRedirect, if any."""
    node = key
    while node is not None and getattr(node, "url_path", None) is not None:
        redirect = node.setting("HttpRedirect").value
        if redirect is not None:
            base = node.url_path.rstrip("/")
            rest = url[len(base):] if url.casefold().startswith(base.casefold()) else ""
            if redirect.child_only and rest.strip("/") == "":
                return None
            target = redirect.target if redirect.exact_destination else redirect.target.rstrip("/") + rest
            return target, redirect.permanent
        node = node.parent
    return None


def redirect_stage(next_app, service):
    def app(environ, start_response):
        found = redirect_target(environ["host.vdir"], environ["host.url"])
        if found is None:
            return next_app(environ, start_response)
        target, permanent = found
        body = _MOVED.format(url=html.escape(target, quote=True)).encode()
        start_response("301 Moved Permanently" if permanent else "302 Object moved",
                       [("Location", target), ("Content-Type", "text/html"), ("Content-Length", str(len(body)))])
        return [body]

    return app


@hookimpl(trylast=True)
def register_pipeline_stages():
    return [PipelineStage(HTTP_REDIRECT, redirect_stage)]
