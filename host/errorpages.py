"""The error-page stage: the one place where failures become responses.

An :class:`~host.errors.HttpError` becomes IIS 6's error page with its
status and substatus; any other exception becomes a 500 page while the
traceback goes to the event log, never to the client.
"""
from __future__ import annotations

import traceback

from host.errors import HttpError
from host.eventlog import Level
from host.hookspecs import hookimpl
from host.pipeline import ERROR_PAGES, PipelineStage

EVENT_SOURCE = "W3SVC-WP"


def send_error(environ, start_response, error: HttpError):
    """Answer with ``error``'s IIS page and record its numbers for the W3C log."""
    log = environ.get("host.log")
    if log is not None:
        log.substatus, log.win32_status = error.substatus, error.win32
    page = error.page().encode("cp1252", "replace")
    headers = [("Content-Type", "text/html"), ("Content-Length", str(len(page))), *error.headers]
    start_response(f"{error.status} {error.phrase}", headers)
    return [b"" if environ.get("REQUEST_METHOD") == "HEAD" else page]


def error_pages_stage(next_app, service):
    def app(environ, start_response):
        started = []

        def tracking_start_response(status, headers, exc_info=None):
            started.append(status)
            return start_response(status, headers, exc_info)

        try:
            return next_app(environ, tracking_start_response)
        except HttpError as error:
            if started:  # pragma: no cover - a handler that fails after starting its answer
                raise
            return send_error(environ, start_response, error)
        except Exception:
            if started:
                raise
            service.eventlog.write(
                EVENT_SOURCE, 2268, Level.ERROR,
                f"An unhandled error occurred while serving {environ.get('REQUEST_METHOD')} "
                f"{environ.get('SCRIPT_NAME', '')}{environ.get('PATH_INFO', '')}:\n{traceback.format_exc()}",
            )
            return send_error(environ, start_response, HttpError(500, 0, 0))

    return app


@hookimpl(trylast=True)
def register_pipeline_stages():
    return [PipelineStage(ERROR_PAGES, error_pages_stage)]
