"""autodisc.dll: the handler the /Autodiscover vdir's wildcard script map runs.

By the time a request gets here the pipeline has done SSL and authentication
as the vdir's AccessSSLFlags and AuthFlags say. The POX service answers
authenticated users only: a request that arrives anonymous (a vdir that also
allows Anonymous, as Exchange 2016's does for AutodiscoverV2) is refused with
401.5, the status IIS gives when an ISAPI extension denies access, and the
challenges of the vdir's other methods. AutodiscoverV2 answers anyone the
vdir lets in.
"""
from __future__ import annotations

import datetime as dt

from webob import Response

from host import HttpError, Request
from host.auth.stage import challenge_headers
from host.errors import ERROR_ACCESS_DENIED, ERROR_FILE_NOT_FOUND
from plugins.autodiscover import jsonv2
from plugins.autodiscover.mobilesync import mobilesync_response
from plugins.autodiscover.outlook import legacy_dn, outlook_response
from plugins.autodiscover.pox import (
    INVALID_REQUEST,
    MOBILESYNC_RESPONSE_NS,
    NO_PROVIDER,
    OUTLOOK_RESPONSE_NS,
    InvalidRequest,
    framework_error,
    parse_request,
)
from plugins.autodiscover.publishing import MASSYNC, PublishedUrls, owa_vdir, published_urls, server_fqdn, vdirs_running
from plugins.autodiscover.recipients import AUTODISCOVER_KEY, resolve


def make_app(service):
    """The handler's WSGI application (one per service, built at start-up)."""

    def app(environ, start_response):
        req = Request(environ)
        segments = [s for s in req.path_info.split("/") if s]
        name = segments[0].casefold() if segments else ""
        if name == "autodiscover.xml" and len(segments) == 1:
            response = _pox(req)
        elif name == "autodiscover.json":
            response = _v2(req, segments[1:])
        else:
            raise HttpError(404, 0, ERROR_FILE_NOT_FOUND, detail="Autodiscover serves Autodiscover.xml and "
                                                                 "autodiscover.json only.")
        return response(environ, start_response)

    return app


def _xml(body: bytes) -> Response:
    return Response(body=body, status=200, content_type="text/xml", charset="utf-8")


def _pox(req: Request) -> Response:
    identity = req.identity
    if identity is None or identity.anonymous:
        offered = [s for s in req.service.auth_schemes if s.enabled(req.vdir) and s.challenges(req)]
        raise HttpError(401, 5, ERROR_ACCESS_DENIED, headers=challenge_headers(offered, req),
                        detail="Autodiscover.xml answers authenticated users only.")
    computer, now = req.service.computer_name, dt.datetime.now(dt.timezone.utc)
    if req.method != "POST":
        return _xml(framework_error(INVALID_REQUEST, f"Autodiscover takes a POST with an XML request, not a "
                                                     f"{req.method}.", computer, now))
    try:
        request = parse_request(req.body)
    except InvalidRequest as exc:
        return _xml(framework_error(INVALID_REQUEST, str(exc), computer, now))
    if request.schema == MOBILESYNC_RESPONSE_NS:
        return _mobilesync(req, request.email, computer, now)
    if request.schema == OUTLOOK_RESPONSE_NS:
        return _outlook(req, request.email, request.legacy_dn, computer, now)
    return _xml(framework_error(NO_PROVIDER, f'No provider serves the AcceptableResponseSchema "{request.schema}"; '
                                             f"this server has {MOBILESYNC_RESPONSE_NS} and {OUTLOOK_RESPONSE_NS}.",
                                computer, now))


def _activesync(req: Request) -> tuple[PublishedUrls | None, str]:
    found = vdirs_running(req.config, MASSYNC)
    if not found:
        return None, ("No started site has a vdir whose ScriptMaps map every request to massync.dll "
                      "(the Microsoft-Server-ActiveSync vdir).")
    return published_urls(found[0], server_fqdn(req.service.computer_name, req.service.directory)), ""


def _redirects(req: Request):
    return req.config.registry_value(AUTODISCOVER_KEY, "RedirectDomains")


def _mobilesync(req: Request, email: str, computer: str, now: dt.datetime) -> Response:
    if not email:
        return _xml(framework_error(INVALID_REQUEST, "The request has no EMailAddress.", computer, now))
    activesync, reason = _activesync(req)
    recipient = resolve(email, req.service.directory, _redirects(req))
    return _xml(mobilesync_response(recipient, email, activesync, reason))


def _outlook(req: Request, email: str, dn: str, computer: str, now: dt.datetime) -> Response:
    directory = req.service.directory
    if dn:  # MS-OXDSCLI 3.2.5: LegacyDN wins over EMailAddress
        user = next((u for u in directory.users() if legacy_dn(u).casefold() == dn.casefold()), None)
        email = user.primary_smtp if user is not None else dn
    if not email:
        return _xml(framework_error(INVALID_REQUEST, "The request has no EMailAddress or LegacyDN.", computer, now))
    recipient = resolve(email, directory, _redirects(req))
    owa = owa_vdir(req.config)
    user = getattr(recipient, "user", None)
    return _xml(outlook_response(
        recipient, email,
        server_fqdn=server_fqdn(user.home_server if user else computer, directory),
        owa=published_urls(owa, server_fqdn(computer, directory)) if owa is not None else None,
        owa_methods=[s.name for s in req.service.auth_schemes if owa is not None and s.enabled(owa)],
        computer_name=computer, now=now))


def _v2(req: Request, segments: list[str]) -> Response:
    request = jsonv2.parse(segments, {k.lower(): v for k, v in req.GET.items()})
    fqdn = server_fqdn(req.service.computer_name, req.service.directory)
    urls = {"AutodiscoverV1": published_urls(req.vdir.application, fqdn, "/Autodiscover.xml").for_devices}
    activesync, _reason = _activesync(req)
    if activesync is not None:
        urls["ActiveSync"] = activesync.for_devices
    return jsonv2.answer(request, urls, _redirects(req))
