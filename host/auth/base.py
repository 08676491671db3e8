"""What an authentication scheme is, and who a request runs as.

A scheme is offered on a vdir when :meth:`AuthScheme.enabled` says so; the
built-in ones follow their ``AuthFlags`` bit. Forms-based logon, added by the
mailbox plugin, is one more scheme through ``register_auth_schemes``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from webob import Response

    from host.config import VirtualDirectory
    from host.directory import User
    from host.request import Request


@dataclass(frozen=True)
class Identity:
    """The account a request runs as.

    :param user: the directory user; None for anonymous requests.
    :param auth_type: IIS's AUTH_TYPE: "" (anonymous), "Basic", "NTLM",
        "Negotiate", "SSL/PCT" (mapped client certificate) or a plugin's own.
    :param auth_user: AUTH_USER: the name as the client gave it.
    :param logon_user: LOGON_USER: the Windows account, ``DOMAIN\\user``.
    """

    user: User | None
    auth_type: str
    auth_user: str
    logon_user: str

    @property
    def anonymous(self) -> bool:
        return self.user is None


class AuthScheme:
    """One authentication method. Subclasses override what they need.

    :cvar name: the method's name as IIS Manager shows it.
    :cvar authorization_schemes: the ``Authorization`` header schemes it reads.
    :cvar flag: its ``AuthFlags`` bit (0 when enabled by other means).
    :cvar order: schemes are asked and challenges sent in ascending order
        (IIS: Negotiate and NTLM before Basic; anonymous is tried last).
    """

    name = ""
    authorization_schemes: tuple[str, ...] = ()
    flag = 0
    order = 50

    def enabled(self, vdir: VirtualDirectory) -> bool:
        """Whether the vdir offers this method."""
        return bool(self.flag and vdir.get("AuthFlags") & self.flag)

    def challenges(self, req: Request) -> list[str]:
        """``WWW-Authenticate`` values this method adds to a 401."""
        return []

    def authenticate(self, req: Request, scheme: str, credentials: str) -> Identity:
        """Check an ``Authorization`` header of one of :attr:`authorization_schemes`.

        :raises host.errors.HttpError: 401.1 for bad credentials, or a 401
            carrying the next leg of a multi-leg handshake.
        """
        raise NotImplementedError

    def identify(self, req: Request) -> Identity | None:
        """Who the request is without an ``Authorization`` header (anonymous
        account, an NTLM-authenticated connection, a session cookie), if anyone."""
        return None

    def unauthenticated_response(self, req: Request) -> Response | None:
        """A response replacing the 401 challenge (forms logon: a redirect)."""
        return None
