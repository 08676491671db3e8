"""The W3C logging stage: one line per request in the site's W3C extended log.

It wraps the whole pipeline so it sees the final status, and counts what
really went over the wire: ``sc-bytes`` includes the status line and headers,
``time-taken`` runs until the last byte of the body was handed to the server.
Credentials never reach the log: only the authenticated name does.
"""
from __future__ import annotations

import time
from datetime import datetime, timezone

from host.hookspecs import hookimpl
from host.pipeline import W3C_LOG, PipelineStage
from host.w3clog import LogEntry


def _request_bytes(environ) -> int:
    """cs-bytes: the request line, the headers and the body, as received."""
    line = len(environ.get("REQUEST_METHOD", "")) + len(environ.get("REQUEST_URI") or environ.get("PATH_INFO", "")) + 12
    headers = sum(len(k) - 5 + len(str(v)) + 4 for k, v in environ.items() if k.startswith("HTTP_"))
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers += len(key) + len(environ[key]) + 4
    try:
        body = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        body = 0
    return line + headers + 2 + body


class _LoggedBody:
    """Passes the body through, counting bytes; writes the log line on close()."""

    def __init__(self, body, finish):
        self._body = body
        self._finish = finish
        self.sent = 0

    def __iter__(self):
        for chunk in self._body:
            self.sent += len(chunk)
            yield chunk

    def close(self):
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._finish(self.sent)


def w3c_log_stage(next_app, service):
    def app(environ, start_response):
        began = time.perf_counter()
        status_holder: dict = {}

        def logging_start_response(status, headers, exc_info=None):
            status_holder["status"] = int(status.split(" ", 1)[0])
            status_holder["head"] = len(status) + 11 + sum(len(k) + len(v) + 4 for k, v in headers) + 2
            return start_response(status, headers, exc_info)

        def finish(body_bytes: int) -> None:
            site = environ.get("host.site")
            log = environ["host.log"]
            w3c = service.w3c_log(site.id) if site is not None else None
            if w3c is None:
                return
            endpoint = environ.get("host.endpoint")
            query = log.uri_query if log.uri_query is not None else environ.get("QUERY_STRING", "")
            w3c.write(LogEntry(
                time=datetime.now(timezone.utc),
                site_name=site.name,
                computer_name=service.computer_name,
                server_ip=endpoint.ip if endpoint else environ.get("SERVER_NAME", ""),
                method=environ.get("REQUEST_METHOD", ""),
                uri_stem=log.uri_stem if log.uri_stem is not None else environ.get("host.url", environ.get("PATH_INFO", "")),
                uri_query=query + log.query_suffix,
                server_port=int(environ.get("SERVER_PORT") or 0),
                username=log.username,
                client_ip=environ.get("REMOTE_ADDR", ""),
                protocol_version=environ.get("SERVER_PROTOCOL", ""),
                user_agent=environ.get("HTTP_USER_AGENT", ""),
                cookie=environ.get("HTTP_COOKIE", ""),
                referer=environ.get("HTTP_REFERER", ""),
                host=environ.get("HTTP_HOST", ""),
                status=status_holder.get("status", 0),
                substatus=log.substatus,
                win32_status=log.win32_status,
                bytes_sent=status_holder.get("head", 0) + body_bytes,
                bytes_received=_request_bytes(environ),
                time_taken_ms=int((time.perf_counter() - began) * 1000),
            ))

        body = next_app(environ, logging_start_response)
        if isinstance(body, (list, tuple)):
            # A body already in memory: log now and hand the list itself to the
            # server, which then sends headers and body in one write.
            finish(sum(len(chunk) for chunk in body))
            return body
        return _LoggedBody(body, finish)

    return app


@hookimpl(trylast=True)
def register_pipeline_stages():
    return [PipelineStage(W3C_LOG, w3c_log_stage)]
