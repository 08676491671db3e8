"""The static-file handler: what IIS 6 serves when no script map applies.

Files come from the vdir's folder on the lab's C: drive (``vdirs/``), with
IIS 6's MIME map (an unknown extension is 404.3, so a stray ``.ini`` is never
served), ``DefaultDoc`` for directory URLs, directory listings only with
``EnableDirBrowsing`` (else 403.14), and Read permission (403.2). webob's
FileApp does conditional GET and ranges.
"""
from __future__ import annotations

import html
import os
from datetime import datetime, timezone
from pathlib import Path

from webob import Response
from webob.static import FileApp

from host.errors import ERROR_ACCESS_DENIED, ERROR_FILE_NOT_FOUND, ERROR_PATH_NOT_FOUND, HttpError
from host.hookspecs import hookimpl
from host.metabase import ACCESS_FLAGS
from host.scriptmaps import STATIC_FILE, Handler
from host.vdirs import translate

# IIS 6's default MIME map (the common part of it).
MIME_MAP = {
    ".htm": "text/html", ".html": "text/html", ".stm": "text/html", ".txt": "text/plain",
    ".css": "text/css", ".js": "application/x-javascript", ".xml": "text/xml", ".xsl": "text/xml",
    ".gif": "image/gif", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png",
    ".ico": "image/x-icon", ".bmp": "image/bmp", ".pdf": "application/pdf", ".zip": "application/x-zip-compressed",
    ".cab": "application/octet-stream", ".cer": "application/x-x509-ca-cert", ".crt": "application/x-x509-ca-cert",
    ".der": "application/x-x509-ca-cert", ".p7b": "application/x-pkcs7-certificates", ".wav": "audio/wav",
    ".doc": "application/msword", ".rtf": "application/rtf", ".hta": "application/hta", ".mht": "message/rfc822",
    ".eml": "message/rfc822", ".vcf": "text/x-vcard", ".ics": "text/calendar",
}
ALLOWED_VERBS = ("GET", "HEAD", "OPTIONS", "TRACE")


def serve_static(environ, start_response):
    vdir = environ["host.vdir"]
    method = environ.get("REQUEST_METHOD", "GET")
    if method == "OPTIONS":
        return Response(status=200, headerlist=[("Allow", ", ".join(ALLOWED_VERBS)), ("Public", ", ".join(ALLOWED_VERBS)),
                                                ("Content-Length", "0")])(environ, start_response)
    folder = environ.get("host.content_folder")
    if folder is None:
        raise HttpError(404, 0, ERROR_FILE_NOT_FOUND, detail="This virtual directory has no folder on the lab's C: drive.")
    path = translate(folder, environ.get("PATH_INFO", ""))
    # IIS looks for the file before it looks at the verb: a PROPFIND to a vdir that is gone
    # (MASSYNC's hop after /Exchange was renamed) is a 404, not a 405.
    if not path.exists():
        raise HttpError(404, 0, ERROR_FILE_NOT_FOUND if path.parent.is_dir() else ERROR_PATH_NOT_FOUND)
    if method not in ("GET", "HEAD"):
        raise HttpError(405, 0, 0, headers=[("Allow", ", ".join(ALLOWED_VERBS))])
    if not vdir.get("AccessFlags") & ACCESS_FLAGS["AccessRead"]:
        raise HttpError(403, 2, ERROR_ACCESS_DENIED)
    if path.is_dir():
        url = environ["host.url"]
        if not url.endswith("/"):
            location = url + "/" + (f"?{environ['QUERY_STRING']}" if environ.get("QUERY_STRING") else "")
            return Response(status="302 Object moved", location=location)(environ, start_response)
        if vdir.get("EnableDefaultDoc"):
            for name in vdir.get("DefaultDoc"):
                candidate = next((p for p in path.iterdir() if p.name.casefold() == name.casefold()), None)
                if candidate is not None and candidate.is_file():
                    return _file(candidate)(environ, start_response)
        if vdir.get("EnableDirBrowsing"):
            return _listing(path, url)(environ, start_response)
        raise HttpError(403, 14, ERROR_ACCESS_DENIED)
    if not path.is_file():
        raise HttpError(404, 0, ERROR_FILE_NOT_FOUND)
    return _file(path)(environ, start_response)


def _file(path: Path):
    content_type = MIME_MAP.get(path.suffix.casefold())
    if content_type is None:
        raise HttpError(404, 3, 50, detail=f'No MIME map entry for "{path.suffix}" files.')
    return FileApp(str(path), content_type=content_type)


def _listing(path: Path, url: str) -> Response:
    """IIS 6's directory listing layout."""
    rows = []
    for entry in sorted(path.iterdir(), key=lambda p: (not p.is_dir(), p.name.casefold())):
        stat = entry.stat()
        when = datetime.fromtimestamp(stat.st_mtime, timezone.utc).strftime("%A, %B %d, %Y %I:%M %p")
        size = "&lt;dir&gt;" if entry.is_dir() else str(stat.st_size)
        link = html.escape(url + entry.name + ("/" if entry.is_dir() else ""), quote=True)
        rows.append(f"{when} {size:>12} <A HREF=\"{link}\">{html.escape(entry.name)}</A><br>")
    body = (f"<html><head><title>{html.escape(os.environ.get('HOSTNAME', 'localhost'))} - {html.escape(url)}</title></head>"
            f"<body><H1>{html.escape(url)}</H1><hr>\n<pre>" + "\n".join(rows) + "</pre><hr></body></html>")
    return Response(body=body.encode(), content_type="text/html")


@hookimpl(trylast=True)
def register_handlers():
    return [Handler(STATIC_FILE, lambda service: serve_static, "IIS's static file handler")]
