"""An IIS 6-like web host whose configuration lives in a registry-like ``registry.ini``.

The public API for plugin authors: the ``hookimpl`` marker, the request type
handlers receive, and the error type that becomes an IIS-style error page.
"""
from host.hookspecs import hookimpl
from host.errors import HttpError
from host.request import Request

__all__ = ["hookimpl", "HttpError", "Request"]
