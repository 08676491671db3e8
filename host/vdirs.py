"""Vdir resolution: the longest matching metabase key, SCRIPT_NAME/PATH_INFO, the physical path.

The lab's Windows file system: a vdir ``Path`` such as
``C:\\Inetpub\\wwwroot`` names ``<content root>/Inetpub/wwwroot``, i.e. the
project's ``vdirs/`` folder is drive C:. Lookups are case-insensitive as on
NTFS, and no URL may leave its vdir's folder. Paths that are not files on C:
(the Exchange store's ``\\\\.\\BackOfficeStorage\\...``) have no file system:
their handler serves them.
"""
from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from urllib.parse import unquote

from host.errors import ERROR_PATH_NOT_FOUND, HttpError
from host.hookspecs import hookimpl
from host.pipeline import VDIR_RESOLUTION, PipelineStage

_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


@functools.lru_cache(maxsize=256)
def content_folder(content_root: Path, windows_path: str) -> Path | None:
    """The folder a vdir ``Path`` names, or None when it is not on the lab's C: drive.

    Cached: the same few vdir paths are looked up on every request.
    """
    text = windows_path.replace("/", "\\").strip()
    if text.startswith("\\\\"):
        return None  # a UNC or device path: not a folder of the lab
    if _DRIVE.match(text):
        if text[0].upper() != "C":
            return None
        text = text[3:]
    return _case_insensitive(content_root, [p for p in text.split("\\") if p])


def _case_insensitive(base: Path, parts: list[str]) -> Path | None:
    """Walk ``parts`` below ``base`` matching names case-insensitively, as NTFS does."""
    current = base
    for part in parts:
        if part in (".", ".."):
            return None
        candidate = current / part
        if not candidate.exists() and current.is_dir():
            folded = part.casefold()
            match = next((c for c in current.iterdir() if c.name.casefold() == folded), None)
            candidate = match if match is not None else candidate
        current = candidate
    return current


def url_segments(path_info: str) -> list[str]:
    """PATH_INFO's segments, decoded; 404 for any that could climb out of a folder."""
    parts = [p for p in unquote(path_info, encoding="utf-8", errors="replace").replace("\\", "/").split("/") if p]
    if any(p in (".", "..") or "\x00" in p for p in parts):
        raise HttpError(404, 0, ERROR_PATH_NOT_FOUND, detail="The URL would leave the virtual directory's folder.")
    return parts


def translate(folder: Path, path_info: str) -> Path:
    """The file a PATH_INFO names inside ``folder``, matched as NTFS would (case-insensitive);
    404 when it would leave the folder, symbolic links included. Handlers that open files use this."""
    parts = url_segments(path_info)
    resolved = _case_insensitive(folder, parts)
    root = os.path.realpath(folder)
    if resolved is None or os.path.commonpath([root, os.path.realpath(resolved)]) != root:
        raise HttpError(404, 0, ERROR_PATH_NOT_FOUND, detail="The URL would leave the virtual directory's folder.")
    return resolved


def vdir_resolution_stage(next_app, service):
    def app(environ, start_response):
        site = environ["host.site"]
        url = environ.get("PATH_INFO", "") or "/"
        environ["host.url"] = url
        environ["URL"] = url
        found = site.resolve(url)
        if found is None:
            raise HttpError(404, 0, ERROR_PATH_NOT_FOUND, detail=f"The site [{site.path}] has no ROOT virtual directory.")
        key, script_name, path_info = found
        application = key.application
        environ["host.vdir"] = key
        environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "").rstrip("/") + script_name
        environ["PATH_INFO"] = path_info
        environ["APPL_MD_PATH"] = application.path
        physical = application.get("Path")
        environ["APPL_PHYSICAL_PATH"] = physical
        folder = content_folder(service.content_root, physical) if physical else None
        environ["host.content_folder"] = folder
        if folder is not None:
            environ["PATH_TRANSLATED"] = os.path.join(folder, *url_segments(path_info))
        length = environ.get("CONTENT_LENGTH") or "0"
        if length.isdigit() and int(length) > key.get("MaxRequestEntityAllowed"):
            raise HttpError(413, 0, 0, detail="The request body is larger than MaxRequestEntityAllowed.")
        return next_app(environ, start_response)

    return app


@hookimpl(trylast=True)
def register_pipeline_stages():
    return [PipelineStage(VDIR_RESOLUTION, vdir_resolution_stage)]
