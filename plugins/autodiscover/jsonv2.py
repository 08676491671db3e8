"""AutodiscoverV2: one protocol's URL as JSON, the way Exchange 2016 and later answer it.

Two spellings ask the same question::

    GET /autodiscover/autodiscover.json?Email=alice@contoso.com&Protocol=ActiveSync
    GET /autodiscover/autodiscover.json/v1.0/alice@contoso.com?Protocol=ActiveSync

and get ``{"Protocol":"ActiveSync","Url":"https://.../Microsoft-Server-ActiveSync"}``.
An unknown protocol is HTTP 400 with ``{"ErrorCode":"InvalidProtocol",...}``.
The endpoint answers without authentication on Exchange, so it looks at the
address's domain only (an anonymous caller must not learn which mailboxes
exist): a domain served elsewhere (``RedirectDomains``) is a 302 to that
organisation's autodiscover.json, everything else gets this server's URL.
"""
from __future__ import annotations

import html
import json
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from webob import Response

from host.errors import ERROR_FILE_NOT_FOUND, HttpError
from plugins.autodiscover.recipients import DomainRedirect, domain_of, redirect_for

VERSION = "v1.0"
# The protocols the lab serves, by the lower-case name clients may use.
PROTOCOLS = {"activesync": "ActiveSync", "autodiscoverv1": "AutodiscoverV1"}


@dataclass(frozen=True)
class V2Request:
    email: str
    protocol: str  # as the client wrote it
    redirect_count: int


def parse(segments: list[str], params: dict[str, str]) -> V2Request:
    """``segments`` follow ``autodiscover.json`` in the path; ``params`` have lower-case names.

    :raises HttpError: 404 for a path that is neither spelling.
    """
    if segments and (len(segments) != 2 or segments[0].casefold() != VERSION):
        raise HttpError(404, 0, ERROR_FILE_NOT_FOUND, detail=f"AutodiscoverV2 paths are autodiscover.json or "
                                                             f"autodiscover.json/{VERSION}/<email>.")
    email = segments[1] if segments else params.get("email", "")
    count = params.get("redirectcount", "0")
    return V2Request(email.strip(), params.get("protocol", "").strip(), int(count) if count.isdigit() else 0)


def _json(status: int, body: dict) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status=status, content_type="application/json",
                    charset="utf-8")


def answer(request: V2Request, urls: dict[str, str], redirects: list[DomainRedirect]) -> Response:
    """The JSON answer.

    :param urls: the URL to publish per protocol (canonical names of :data:`PROTOCOLS`); a protocol
        without one (no vdir runs it) is not offered.
    """
    available = {key: name for key, name in PROTOCOLS.items() if name in urls}
    protocol = available.get(request.protocol.casefold())
    if protocol is None:
        supported = ",".join(available)
        return _json(400, {"ErrorCode": "InvalidProtocol",
                           "ErrorMessage": f"The given protocol value is invalid. Supported values are '{supported}'."})
    if "@" not in request.email:
        return _json(400, {"ErrorCode": "InvalidUser", "ErrorMessage": "The given user is not a valid SMTP address."})
    rule = redirect_for(redirects, domain_of(request.email))
    if rule is not None:
        return _redirect(request, protocol, rule)
    return _json(200, {"Protocol": protocol, "Url": urls[protocol]})


def _redirect(request: V2Request, protocol: str, rule: DomainRedirect) -> Response:
    if rule.url:
        parts = urlsplit(rule.url)
        base, email = f"{parts.scheme}://{parts.netloc}", request.email
    else:
        email = f"{request.email.rpartition('@')[0]}@{rule.address_domain}"
        base = f"https://autodiscover.{rule.address_domain}"
    location = (f"{base}/autodiscover/autodiscover.json/{VERSION}/{quote(email, safe='@')}"
                f"?Protocol={protocol}&RedirectCount={request.redirect_count + 1}")
    page = f'<html><body>Object moved to <a href="{html.escape(location)}">here</a>.</body></html>'
    return Response(status=302, location=location, content_type="text/html", charset="utf-8", body=page.encode())
