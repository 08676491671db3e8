"""The request object handlers receive: webob's Request plus the host's view of it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import webob

if TYPE_CHECKING:  # pragma: no cover
    from host.auth.base import Identity
    from host.config import HostConfig, Site, VirtualDirectory
    from host.service import WebService


@dataclass
class RequestLog:
    """What the W3C log writes for this request, filled in by the stages.

    ``uri_stem`` replaces the logged stem (URLScan logs ``/<Rejected-By-UrlScan>``);
    ``query_suffix`` is appended to cs-uri-query (MASSYNC's ``&Log=`` field).
    """

    substatus: int = 0
    win32_status: int = 0
    username: str = ""
    uri_stem: str | None = None
    uri_query: str | None = None
    query_suffix: str = ""
    site_name: str = ""
    site_id: int | None = None


class Request(webob.Request):
    """A request inside the pipeline; attributes are set by the stages in order."""

    @property
    def service(self) -> WebService:
        return self.environ["host.service"]

    @property
    def config(self) -> HostConfig:
        return self.environ["host.config"]

    @property
    def site(self) -> Site:
        return self.environ["host.site"]

    @property
    def vdir(self) -> VirtualDirectory:
        """The deepest metabase key matching the URL (its settings apply)."""
        return self.environ["host.vdir"]

    @property
    def identity(self) -> Identity | None:
        return self.environ.get("host.identity")

    @property
    def log(self) -> RequestLog:
        return self.environ["host.log"]

    @property
    def connection(self) -> Any:
        return self.environ.get("host.connection")

    @property
    def tls(self) -> Any:
        return self.environ.get("host.tls")

    @property
    def physical_path(self) -> str | None:
        """PATH_TRANSLATED: the file the URL maps to (None when the vdir has no file system)."""
        return self.environ.get("PATH_TRANSLATED")
