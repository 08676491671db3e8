"""Integrated Windows authentication (AuthNTLM, 4): a real NTLM handshake.

NTLM authenticates the TCP connection (MS-NLMP): the negotiate and
authenticate messages must arrive on one connection, and once it succeeds
later requests on that keep-alive connection run as the same user without
sending credentials again. So the handshake state lives in the connection's
state, not in the request. IIS 6 offers ``Negotiate`` and ``NTLM``
(NTAuthenticationProviders); the lab has no Kerberos, so Negotiate carries
NTLM inside SPNEGO.
"""
from __future__ import annotations

import base64
import binascii

from host.auth.base import AuthScheme, Identity
from host.errors import SEC_E_INVALID_TOKEN, SEC_E_NO_CREDENTIALS, HttpError
from host.hookspecs import hookimpl
from host.metabase import AUTH_FLAGS
from host.ntlm import NtlmAcceptor, NtlmLogonError

HANDSHAKE = "ntlm.handshake"
AUTHENTICATED = "ntlm.identity"


class IntegratedScheme(AuthScheme):
    name = "Integrated Windows authentication"
    authorization_schemes = ("Negotiate", "NTLM")
    flag = AUTH_FLAGS["AuthNTLM"]
    order = 10

    def challenges(self, req):
        return ["Negotiate", "NTLM"]

    def identify(self, req):
        state = _connection_data(req)
        return state.get(AUTHENTICATED)

    def authenticate(self, req, scheme, credentials):
        state = _connection_data(req)
        try:
            token = base64.b64decode(credentials, validate=True)
        except (binascii.Error, ValueError):
            token = b""
        if not token:
            raise HttpError(400, 0, SEC_E_INVALID_TOKEN, detail=f"The {scheme} token is not valid base64.")
        acceptor = state.get(HANDSHAKE)
        if acceptor is None or acceptor.scheme.casefold() != scheme.casefold() or _is_negotiate_message(token):
            state.pop(AUTHENTICATED, None)
            acceptor = NtlmAcceptor(req.service.directory, "Negotiate" if scheme.casefold() == "negotiate" else "NTLM")
            state[HANDSHAKE] = acceptor
        try:
            reply = acceptor.step(token)
        except NtlmLogonError as exc:
            state.pop(HANDSHAKE, None)
            from host.auth.stage import challenge_headers

            offered = [s for s in req.service.auth_schemes if s.enabled(req.vdir)]
            raise HttpError(401, 1, exc.win32, headers=challenge_headers(offered, req), detail=str(exc)) from None
        if not acceptor.complete:
            raise HttpError(401, 1, SEC_E_NO_CREDENTIALS,
                            headers=[("WWW-Authenticate", f"{acceptor.scheme} {base64.b64encode(reply or b'').decode()}")])
        state.pop(HANDSHAKE, None)
        user = acceptor.user
        identity = Identity(user, acceptor.scheme, user.logon_name, user.logon_name)
        state[AUTHENTICATED] = identity
        if reply:
            req.environ["host.auth_reply"] = f"{acceptor.scheme} {base64.b64encode(reply).decode()}"
        return identity


def _is_negotiate_message(token: bytes) -> bool:
    """An NTLM NEGOTIATE_MESSAGE (type 1) starts a new handshake on the connection."""
    return token.startswith(b"NTLMSSP\x00\x01\x00\x00\x00")


def _connection_data(req) -> dict:
    connection = req.connection
    if connection is None:  # in-process requests: state lasts one request only
        return req.environ.setdefault("host.connection_data", {})
    return connection.data


@hookimpl(trylast=True)
def register_auth_schemes():
    return [IntegratedScheme()]
