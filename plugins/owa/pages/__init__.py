"""Outlook Web Access pages: the light client on /exchange, rendered with Jinja2.

davex.dll hands browser requests here (:func:`is_browser_request`, :func:`app`);
the logon pages on /exchweb come from :mod:`plugins.owa.exchweb`. See
docs/owa.md for the pages, the URLs and forms-based authentication.
"""
from __future__ import annotations

from plugins.owa.pages.application import app, is_browser_request

__all__ = ["app", "is_browser_request"]
