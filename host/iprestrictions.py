"""IP address restrictions (``IPSecurity``): 403.6 for a client address the vdir refuses.

KB817379's dedicated ``/exchange-oma`` vdir is restricted to the server itself
this way, so that only MASSYNC's own hop may use it.
"""
from __future__ import annotations

import ipaddress

from host.errors import ERROR_ACCESS_DENIED, HttpError
from host.hookspecs import hookimpl
from host.pipeline import IP_RESTRICTIONS, PipelineStage


def allowed(rules: list, address: str) -> bool:
    """Grant/deny by the most specific matching rule, else the default (IIS: grant)."""
    grant_by_default = True
    best: tuple[int, bool] | None = None
    try:
        client = ipaddress.ip_address(address)
    except ValueError:
        return False
    for kind, value in rules:
        if kind == "default":
            grant_by_default = value
        elif client.version == value.version and client in value:
            if best is None or value.prefixlen > best[0]:
                best = (value.prefixlen, kind == "grant")
    return best[1] if best else grant_by_default


def ip_restrictions_stage(next_app, service):
    def app(environ, start_response):
        rules = environ["host.vdir"].get("IPSecurity")
        if rules and not allowed(rules, environ.get("REMOTE_ADDR", "")):
            raise HttpError(403, 6, ERROR_ACCESS_DENIED)
        return next_app(environ, start_response)

    return app


@hookimpl(trylast=True)
def register_pipeline_stages():
    return [PipelineStage(IP_RESTRICTIONS, ip_restrictions_stage)]
