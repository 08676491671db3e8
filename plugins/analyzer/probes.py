"""ExRCA's two unauthenticated looks at the EAS vdir: client certificates and authentication methods.

Client certificates: IIS 6 asks for one only after reading a request to a
vdir that negotiates certificates (PITFALLS §2.1; the lab asks with TLS 1.3
post-handshake authentication). So the analyzer sends a request from a
client that *cannot* answer such a request: if the server asked, the
connection dies without a response. A second request from a client that
can answer, but has no certificate, then tells "require" (403.7) from
"accept". Authentication methods: the ``WWW-Authenticate`` headers of the
401 an unauthenticated request gets.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from device import TlsSettings
from device.connection import Connection, HttpResult
from device.errors import TransportError
from device.profiles import Published

from .causes import http_causes, iis_status, vdir_cause, site_serving
from .lab import Lab
from .report import Step

CLIENT_CERT_TITLE = "Checking the IIS configuration for client certificate authentication."
USER_AGENT = "ExRCA"


def _request(url: str, published: Published, tls: TlsSettings | None) -> HttpResult:
    connection = Connection(url, tls=tls, address=(published.ip, published.lab_port), timeout=15)
    try:
        return connection.request("OPTIONS", urlsplit(url).path or "/", {"User-Agent": USER_AGENT})
    finally:
        connection.close()


def check_client_certificates(lab: Lab, url: str, published: Published, tls: TlsSettings) -> Step:
    step = Step(CLIENT_CERT_TITLE)
    path = urlsplit(url).path
    try:
        _request(url, published, _without_pha(tls))
    except TransportError as dropped:
        asked = dropped
    else:
        step.summary = "Client certificate authentication wasn't detected."
        step.details.append("Accept/Require Client Certificates isn't configured.")
        return step
    try:
        second = _request(url, published, tls)
    except TransportError as exc:
        return step.fail("Client certificate authentication couldn't be tested.",
                         f"The connection was closed after the request ({asked.reason}), and again by a client "
                         f"that can answer a certificate request: {exc.reason}")
    vdir = _vdir(lab, published, path)
    code = iis_status(second.body) or (second.status, 0)
    if code == (403, 7):
        step.fail("Client certificate authentication was detected: the server requires a client certificate.",
                  "A client that cannot answer a certificate request lost its connection "
                  f"({asked.reason}); one that answers without a certificate got HTTP 403.7.")
        step.causes += http_causes(lab, published, path, second.status, second.body)
        return step
    step.warn("Client certificate authentication was detected: the server accepts client certificates.",
              "The server asked for a certificate after the request; a client that cannot answer "
              f"(a device that cannot renegotiate) lost its connection: {asked.reason}")
    if vdir is not None:
        step.causes.append(vdir_cause(vdir, "AccessSSLFlags", "AccessSSLNegotiateCert (32) makes IIS ask every "
                                                              "client for a certificate; devices that cannot "
                                                              "renegotiate break off"))
    return step


def _without_pha(tls: TlsSettings) -> TlsSettings:
    return TlsSettings(ca_file=tls.ca_file, verify=tls.verify, check_hostname=tls.check_hostname,
                       post_handshake_auth=False)


def _vdir(lab: Lab, published: Published, path: str):
    site = site_serving(lab.config, published)
    resolved = site.resolve(path) if site is not None else None
    return resolved[0] if resolved else None


def check_auth_methods(lab: Lab, url: str, published: Published, tls: TlsSettings | None) -> Step:
    step = Step(f"Testing HTTP Authentication Methods for URL {url}/.")
    path = urlsplit(url).path
    try:
        answer = _request(url, published, tls)
    except TransportError as exc:
        return step.fail("A network error occurred while communicating with the remote host.", exc.reason)
    methods = answer.headers.get_all("WWW-Authenticate") or []
    found = ", ".join(methods) or "none"
    if answer.status != 401:
        return step.warn("The server didn't ask for authentication.",
                         f"An unauthenticated OPTIONS got HTTP {answer.status}; the vdir allows anonymous access.")
    if any(m.split(" ", 1)[0].lower() == "basic" for m in methods):
        step.summary = "The HTTP authentication methods are correct."
        step.details.append(f"The analyzer found all expected authentication methods and no disallowed methods. "
                            f"Methods found: {found}")
        return step
    step.fail("The HTTP authentication methods are incorrect.",
              f"Basic, which Exchange ActiveSync devices use, wasn't offered. Methods found: {found}")
    vdir = _vdir(lab, published, path)
    causes = http_causes(lab, published, path, answer.status, answer.body)
    if not causes and vdir is not None:
        causes = [vdir_cause(vdir, "AuthFlags", "AuthBasic (2) is off, so devices have nothing to answer")]
    step.causes += causes
    return step
