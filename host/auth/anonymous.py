"""Anonymous access (AuthAnonymous, 1): the request runs as ``AnonymousUserName``.

IIS leaves AUTH_USER and LOGON_USER empty for anonymous requests; the
account (IUSR_<computer> by default) is only whom the request runs as.
"""
from __future__ import annotations

from host.auth.base import AuthScheme, Identity
from host.hookspecs import hookimpl
from host.metabase import AUTH_FLAGS


class AnonymousScheme(AuthScheme):
    name = "Anonymous"
    flag = AUTH_FLAGS["AuthAnonymous"]
    order = 100  # last: a connection NTLM already authenticated stays that user

    def identify(self, req):
        return Identity(None, "", "", "")


def anonymous_account(req) -> str:
    """The account anonymous requests of this vdir run as."""
    return req.vdir.get("AnonymousUserName") or f"IUSR_{req.service.computer_name}"


@hookimpl(trylast=True)
def register_auth_schemes():
    return [AnonymousScheme()]
