"""Basic authentication (AuthBasic, 2), checked against the directory's NT hashes.

The name may be ``DOMAIN\\user``, a UPN, or a bare user name, which IIS
completes with ``DefaultLogonDomain`` (empty: the directory's default domain).
"""
from __future__ import annotations

import base64
import binascii

from host.auth.base import AuthScheme, Identity
from host.errors import ERROR_LOGON_FAILURE, HttpError
from host.hookspecs import hookimpl
from host.metabase import AUTH_FLAGS


class BasicScheme(AuthScheme):
    name = "Basic"
    authorization_schemes = ("Basic",)
    flag = AUTH_FLAGS["AuthBasic"]
    order = 20

    def challenges(self, req):
        realm = req.vdir.get("Realm") or (req.host or "").rsplit(":", 1)[0]
        return [f'Basic realm="{realm}"']

    def authenticate(self, req, scheme, credentials):
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("latin-1")
        except (binascii.Error, ValueError):
            raise HttpError(400, 0, 0, detail="The Basic credentials are not valid base64.") from None
        name, sep, password = decoded.partition(":")
        default_domain = req.vdir.get("DefaultLogonDomain") or None
        user = req.service.directory.verify_password(name, password, default_domain=default_domain) if sep else None
        if user is None:
            from host.auth.stage import challenge_headers

            offered = [s for s in req.service.auth_schemes if s.enabled(req.vdir)]
            raise HttpError(401, 1, ERROR_LOGON_FAILURE, headers=challenge_headers(offered, req),
                            detail=f'Logon failed for "{name}".')
        return Identity(user, "Basic", name, user.logon_name)


@hookimpl(trylast=True)
def register_auth_schemes():
    return [BasicScheme()]
