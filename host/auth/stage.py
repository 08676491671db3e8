"""The authentication stage: AuthFlags decide which schemes a vdir offers.

* An ``Authorization`` header for an offered scheme is checked by it (401.1
  with win32 1326 on a wrong password).
* One for a scheme the vdir does not offer, or no header and no scheme that
  identifies the request: 401.2 with every offered challenge, the IIS status
  "denied due to server configuration". With nothing offered (AuthFlags 0)
  the 401.2 carries no challenge at all, as on IIS.
"""
from __future__ import annotations

from host.auth.base import Identity
from host.errors import ERROR_ACCESS_DENIED, HttpError
from host.hookspecs import hookimpl
from host.pipeline import AUTHENTICATION, PipelineStage
from host.request import Request


def challenge_headers(schemes, req) -> list[tuple[str, str]]:
    return [("WWW-Authenticate", value) for scheme in schemes for value in scheme.challenges(req)]


def authentication_stage(next_app, service):
    def app(environ, start_response):
        req = Request(environ)
        offered = [s for s in service.auth_schemes if s.enabled(req.vdir)]
        identity = _identify(req, offered)
        if identity is None:
            for scheme in offered:
                response = scheme.unauthenticated_response(req)
                if response is not None:
                    return response(environ, start_response)
            raise HttpError(401, 2, ERROR_ACCESS_DENIED, headers=challenge_headers(offered, req))
        environ["host.identity"] = identity
        environ["host.log"].username = identity.logon_user
        return next_app(environ, start_response)

    return app


def _identify(req: Request, offered) -> Identity | None:
    cert_user = req.environ.get("host.cert_user")
    if cert_user is not None:
        return Identity(cert_user, "SSL/PCT", cert_user.upn, cert_user.logon_name)
    header = req.environ.get("HTTP_AUTHORIZATION", "").strip()
    if header:
        scheme_name, _, credentials = header.partition(" ")
        for scheme in offered:
            if scheme_name.casefold() in (s.casefold() for s in scheme.authorization_schemes):
                return scheme.authenticate(req, scheme_name, credentials.strip())
        raise HttpError(401, 2, ERROR_ACCESS_DENIED, headers=challenge_headers(offered, req),
                        detail=f'The client used "{scheme_name}" authentication, which this vdir does not offer.')
    for scheme in offered:
        identity = scheme.identify(req)
        if identity is not None:
            return identity
    return None


@hookimpl(trylast=True)
def register_pipeline_stages():
    return [PipelineStage(AUTHENTICATION, authentication_stage)]
