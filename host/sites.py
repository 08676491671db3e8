"""Site selection: which web site a request belongs to, from its binding and Host header.

IIS 6 picks, for the IP and port a connection arrived on, the most specific
binding: IP and host header, then all-unassigned with that host header, then
the IP without host header, then all-unassigned without. SSL bindings carry no
host header in IIS 6, so HTTPS selects by IP and port alone. No match is
HTTP.sys's "400 Bad Request (Invalid Hostname)".
"""
from __future__ import annotations

from host.config import HostConfig, Site
from host.errors import HttpError
from host.hookspecs import hookimpl
from host.pipeline import SITE_SELECTION, PipelineStage


def request_host(environ) -> str:
    """The Host header without port, lower-case (IIS compares host headers case-insensitively)."""
    host = environ.get("HTTP_HOST", "")
    if host.startswith("["):
        return host[: host.find("]") + 1].lower()
    return host.rsplit(":", 1)[0].lower() if ":" in host else host.lower()


def select_site(config: HostConfig, scheme: str, ip: str, port: int, host: str) -> Site | None:
    best: tuple[int, Site] | None = None
    for site in config.sites.values():
        if not site.started:
            continue
        bindings = site.secure_bindings if scheme == "https" else site.bindings
        for binding in bindings:
            if binding.port != port or binding.ip not in ("", ip):
                continue
            header = binding.host_header.lower()
            if scheme == "http" and header and header != host:
                continue
            rank = (2 if header else 0) + (1 if binding.ip else 0)
            if best is None or rank > best[0]:
                best = (rank, site)
    return best[1] if best else None


def site_selection_stage(next_app, service):
    def app(environ, start_response):
        endpoint = environ["host.endpoint"]
        site = select_site(environ["host.config"], endpoint.scheme, endpoint.ip, endpoint.port, request_host(environ))
        if site is None:
            raise HttpError(400, 0, 0, detail="Bad Request (Invalid Hostname): no site is bound to this "
                                              "IP address, port and host header.")
        environ["host.site"] = site
        environ["INSTANCE_ID"] = str(site.id)
        environ["INSTANCE_META_PATH"] = site.path
        return next_app(environ, start_response)

    return app


@hookimpl(trylast=True)
def register_pipeline_stages():
    return [PipelineStage(SITE_SELECTION, site_selection_stage)]
