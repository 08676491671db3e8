"""Request filtering: HTTP.sys's length limits, then the URLScan ISAPI filter when loaded.

HTTP.sys refuses over-long headers and URL segments with 400 before IIS sees
the request (limits under ``Services\\HTTP\\Parameters``). URLScan (installed by
IISLockdown) runs when ``UrlScan`` is in ``/LM/W3SVC/Filters`` ``FilterLoadOrder``;
its UrlScan.ini sections are values of ``HKLM\\SOFTWARE\\Microsoft\\UrlScan``.
It answers a refused request with 404, logs the URL as
``/<Rejected-By-UrlScan>`` in the W3C log and writes its own UrlScan log,
exactly the trail an admin follows on a real server. MASSYNC's hop to
/exchange passes through this same stage, so a verb list without WebDAV
verbs breaks ActiveSync for the real reason.
"""
from __future__ import annotations

import threading
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote, unquote_to_bytes

from host.config import HostConfig
from host.errors import HttpError
from host.hookspecs import hookimpl
from host.metabase import HTTP_PARAMETERS, URLSCAN_KEY
from host.pipeline import REQUEST_FILTERING, PipelineStage

_urlscan_log_lock = threading.Lock()


def raw_url(environ) -> str:
    """The URL as the client sent it (REQUEST_URI), rebuilt when the server gave none."""
    uri = environ.get("REQUEST_URI")
    if uri:
        return uri
    path = quote(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""), safe="/%:@!$&'()*+,;=~")
    return path + ("?" + environ["QUERY_STRING"] if environ.get("QUERY_STRING") else "")


class UrlScanRejection(Exception):
    """URLScan refused the request; the message is the UrlScan log's reason."""


def check_http_sys_limits(config: HostConfig, environ) -> None:
    """HTTP.sys's limits: header line length, total header size, URL segments."""
    max_field = config.registry_value(HTTP_PARAMETERS, "MaxFieldLength")
    max_request = config.registry_value(HTTP_PARAMETERS, "MaxRequestBytes")
    total = len(raw_url(environ)) + len(environ.get("REQUEST_METHOD", "")) + 11
    for key, value in environ.items():
        if key.startswith("HTTP_") or key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            line = len(key) + len(str(value)) + 2
            total += line + 2
            if line > max_field:
                raise HttpError(400, 0, 0, detail="Bad Request - Header Field Too Long (HTTP.sys MaxFieldLength)")
    if total > max_request:
        raise HttpError(400, 0, 0, detail="Bad Request - Request Too Long (HTTP.sys MaxRequestBytes)")
    segments = [s for s in environ.get("PATH_INFO", "").split("/") if s]
    if len(segments) > config.registry_value(HTTP_PARAMETERS, "UrlSegmentMaxCount"):
        raise HttpError(400, 0, 0, detail="Bad Request - Invalid URL (HTTP.sys UrlSegmentMaxCount)")
    longest = config.registry_value(HTTP_PARAMETERS, "UrlSegmentMaxLength")
    if any(len(s) > longest for s in segments):
        raise HttpError(400, 0, 0, detail="Bad Request - Invalid URL (HTTP.sys UrlSegmentMaxLength)")


def url_scan(config: HostConfig, environ) -> None:
    """Apply URLScan's checks in its order; raise :class:`UrlScanRejection` with its log text."""
    opt = lambda name: config.registry_value(URLSCAN_KEY, name)  # noqa: E731 - a local shorthand
    raw_path = raw_url(environ).split("?", 1)[0]
    query = environ.get("QUERY_STRING", "")
    if len(raw_path) > opt("MaxUrl"):
        raise UrlScanRejection("URL length exceeded maximum allowed.")
    if len(query) > opt("MaxQueryString"):
        raise UrlScanRejection("Query string length exceeded maximum allowed.")
    length = environ.get("CONTENT_LENGTH") or "0"
    if length.isdigit() and int(length) > opt("MaxAllowedContentLength"):
        raise UrlScanRejection(f"Content-Length {length} exceeded maximum allowed.")
    verb = environ.get("REQUEST_METHOD", "")
    if opt("UseAllowVerbs"):
        if verb.upper() not in {v.upper() for v in opt("AllowVerbs")}:
            raise UrlScanRejection(f"Sent verb '{verb}', which is not specifically allowed.")
    elif verb.upper() in {v.upper() for v in opt("DenyVerbs")}:
        raise UrlScanRejection(f"Sent verb '{verb}', which is disallowed.")
    url = raw_path
    if opt("NormalizeUrlBeforeScan"):
        once = unquote_to_bytes(raw_path)
        if opt("VerifyNormalization") and unquote_to_bytes(once) != once:
            raise UrlScanRejection("URL normalization was not complete after one pass.")
        url = once.decode("latin-1")
    if not opt("AllowHighBitCharacters") and any(ord(c) > 0x7F for c in url):
        raise UrlScanRejection("URL contains high bit character.")
    segments = [s for s in url.split("/") if s]
    if not opt("AllowDotInPath") and any("." in s for s in segments[:-1]):
        raise UrlScanRejection("URL contains '.' in the path.")
    last = segments[-1] if segments else ""
    extension = "." + last.rsplit(".", 1)[1].lower() if "." in last else "."
    if opt("UseAllowExtensions"):
        if extension not in {e.lower() for e in opt("AllowExtensions")}:
            raise UrlScanRejection(f"URL has extension '{extension}', which is not specifically allowed.")
    elif extension in {e.lower() for e in opt("DenyExtensions")}:
        raise UrlScanRejection(f"URL has extension '{extension}', which is disallowed.")
    for sequence in opt("DenyUrlSequences"):
        if sequence and sequence in url:
            raise UrlScanRejection(f"URL contains sequence '{sequence}', which is disallowed.")
    for header in opt("DenyHeaders"):
        name = header.rstrip(":").upper().replace("-", "_")
        if f"HTTP_{name}" in environ:
            raise UrlScanRejection(f"Request contains header '{header}', which is disallowed.")


def write_urlscan_log(log_dir: Path, environ, reason: str, site_id: int | None) -> None:
    """UrlScan's own log, ``UrlScan.MMDDYY.log``, one line per rejection."""
    now = datetime.now(timezone.utc)
    log_dir.mkdir(parents=True, exist_ok=True)
    line = (f"[{now:%m-%d-%Y - %H:%M:%S}] Client at {environ.get('REMOTE_ADDR', '-')}: {reason} "
            f"Request will be rejected.  Site Instance='{site_id}', Raw URL='{raw_url(environ)}'\n")
    with _urlscan_log_lock, open(log_dir / f"UrlScan.{now:%m%d%y}.log", "a", encoding="utf-8") as fh:
        fh.write(line)


def request_filtering_stage(next_app, service):
    def app(environ, start_response):
        config: HostConfig = environ["host.config"]
        check_http_sys_limits(config, environ)
        if "urlscan" in {f.casefold() for f in config.loaded_filters()}:
            try:
                url_scan(config, environ)
            except UrlScanRejection as rejection:
                log = environ["host.log"]
                log.uri_stem = "/<Rejected-By-UrlScan>"
                log.uri_query = "~" + raw_url(environ).split("?", 1)[0]
                site = environ.get("host.site")
                write_urlscan_log(service.data_dir / "UrlScan", environ, str(rejection), site.id if site else None)
                raise HttpError(404, 0, 0, detail=f"Rejected by URLScan: {rejection}") from None
        return next_app(environ, start_response)

    return app


@hookimpl(trylast=True)
def register_pipeline_stages():
    return [PipelineStage(REQUEST_FILTERING, request_filtering_stage)]
