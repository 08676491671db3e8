"""The discovery sequence an ActiveSync device runs to find its server, step by step.

For ``alice@contoso.com`` a device tries, in this order (MS-OXDISCO 3.1.5;
"Autodiscover for Exchange ActiveSync developers"):

1. POST ``https://contoso.com/autodiscover/autodiscover.xml``
2. POST ``https://autodiscover.contoso.com/autodiscover/autodiscover.xml``
3. GET ``http://autodiscover.contoso.com/autodiscover/autodiscover.xml``
   without credentials; a 302 to an https URL is where it then POSTs
   (MS-OXDISCO 3.1.5.4)
4. the SRV record ``_autodiscover._tcp.contoso.com``; POST to its target

and stops at the first answer it can use. A ``Redirect`` answer starts the
sequence again for the new address; a 302 answer to a POST is followed to
https URLs only. At most ``max_redirects`` of both, as clients limit them.

Every name is resolved through the lab DNS (:class:`LabResolver`) and every
connection goes to the address it returned; TLS is verified against the
caller's trust store with the host name from the URL, as on the device. The
lab cannot bind ports 80 and 443 without privileges, so ``port_map`` plays a
port-forwarding firewall: ``{443: 8443, 80: 8080}`` sends what a device
addresses to port 443 to the lab's SSL binding. Each step lands in
:attr:`Discovery.attempts` with what happened, for the analyzer's report.
"""
from __future__ import annotations

import base64
import http.client
import socket
import ssl
from dataclasses import dataclass, field
from typing import Mapping
from urllib.parse import SplitResult, urlsplit

from plugins.autodiscover.client import MobileSyncAnswer, mobilesync_request, parse_mobilesync_response
from plugins.labdns.resolver import LabLookupError, LabResolver

AUTODISCOVER_PATH = "/autodiscover/autodiscover.xml"
SUCCEEDED, REDIRECTED, FAILED = "succeeded", "redirected", "failed"
MAX_BODY = 1 << 20


@dataclass(frozen=True)
class Attempt:
    """One step: what was tried, how it ended, and the sentence a report shows.

    :param step: ``POST https://...``, ``GET http://...`` or ``SRV _autodiscover._tcp.<domain>``.
    :param result: :data:`SUCCEEDED`, :data:`REDIRECTED` (it pointed elsewhere) or :data:`FAILED`.
    :param address: the IP the step's host name resolved to ("" when it did not resolve).
    :param status: the HTTP status, 0 when none was received.
    """

    step: str
    result: str
    detail: str
    address: str = ""
    status: int = 0


@dataclass
class Discovery:
    """The whole run: every attempt in order, and the ActiveSync URL when one was found."""

    email: str
    attempts: list[Attempt] = field(default_factory=list)
    url: str = ""
    address: str = ""  # the address the URL was found for (differs from email after a Redirect)

    @property
    def succeeded(self) -> bool:
        return bool(self.url)


class _StepFailed(Exception):
    """A step ended early; the text is the attempt's detail."""

    def __init__(self, detail: str, address: str = "") -> None:
        super().__init__(detail)
        self.address = address


def discover(email: str, credentials: tuple[str, str], resolver: LabResolver, trust: ssl.SSLContext, *,
             port_map: Mapping[int, int] | None = None, timeout: float = 10.0, max_redirects: int = 10,
             user_agent: str = "easlab-device") -> Discovery:
    """Run the sequence for ``email`` with Basic ``credentials`` (user, password).

    :param trust: the device's trust store, e.g. ``ssl.create_default_context(cafile=root)``.
    :param port_map: well-known port -> the lab port really listening.
    """
    run = _Run(credentials, resolver, trust, dict(port_map or {}), timeout, max_redirects, user_agent)
    discovery = Discovery(email)
    run.attempts = discovery.attempts
    address = email
    while True:
        answer = run.for_address(address)
        if answer is None:
            return discovery
        if answer.url:
            discovery.url, discovery.address = answer.url, address
            return discovery
        if not run.count_redirect(f"Redirect to {answer.redirect}"):
            return discovery
        address = answer.redirect


class _Run:
    def __init__(self, credentials: tuple[str, str], resolver: LabResolver, trust: ssl.SSLContext,
                 port_map: dict[int, int], timeout: float, max_redirects: int, user_agent: str) -> None:
        user, password = credentials
        self.authorization = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.resolver, self.trust, self.port_map = resolver, trust, port_map
        self.timeout, self.max_redirects, self.user_agent = timeout, max_redirects, user_agent
        self.redirects = 0
        self.attempts: list[Attempt] = []

    def count_redirect(self, what: str) -> bool:
        self.redirects += 1
        if self.redirects > self.max_redirects:
            detail = f"more than {self.max_redirects} redirects; the client gives up"
            self.attempts.append(Attempt(what, FAILED, detail))
            return False
        return True

    def for_address(self, address: str) -> MobileSyncAnswer | None:
        domain = address.rpartition("@")[2].lower()
        for url in (f"https://{domain}{AUTODISCOVER_PATH}", f"https://autodiscover.{domain}{AUTODISCOVER_PATH}"):
            answer = self.post(url, address)
            if answer is not None:
                return answer
        target = self.http_redirect(domain)
        answer = self.post(target, address) if target else None
        if answer is not None:
            return answer
        for url in self.srv(domain):  # looked up only when the steps before found nothing
            answer = self.post(url, address)
            if answer is not None:
                return answer
        return None

    # --- the steps ---------------------------------------------------------

    def post(self, url: str, address: str) -> MobileSyncAnswer | None:
        step = f"POST {url}"
        try:
            ip, status, headers, body = self.request("POST", url, mobilesync_request(address))
        except _StepFailed as exc:
            self.attempts.append(Attempt(step, FAILED, str(exc), exc.address))
            return None
        if status in (301, 302):
            location = headers.get("location", "")
            if not location.lower().startswith("https://"):
                self.attempts.append(Attempt(step, FAILED, f"HTTP {status} to {location or '(no Location)'}: "
                                                           "a redirect must lead to an https URL", ip, status))
                return None
            self.attempts.append(Attempt(step, REDIRECTED, f"HTTP {status} to {location}", ip, status))
            return self.post(location, address) if self.count_redirect(f"POST {location}") else None
        if status != 200:
            hint = " (the credentials were refused)" if status == 401 else ""
            self.attempts.append(Attempt(step, FAILED, f"HTTP {status}{hint}", ip, status))
            return None
        try:
            answer = parse_mobilesync_response(body)
        except ValueError as exc:
            detail = f"the answer is not an Autodiscover response: {exc}"
            self.attempts.append(Attempt(step, FAILED, detail, ip, status))
            return None
        if answer.error:
            self.attempts.append(Attempt(step, FAILED, f"Autodiscover error {answer.error}", ip, status))
            return None
        if answer.redirect:
            self.attempts.append(Attempt(step, REDIRECTED, f"Redirect to the address {answer.redirect}", ip, status))
        else:
            self.attempts.append(Attempt(step, SUCCEEDED, f"ActiveSync URL {answer.url}", ip, status))
        return answer

    def http_redirect(self, domain: str) -> str:
        url = f"http://autodiscover.{domain}{AUTODISCOVER_PATH}"
        step = f"GET {url}"
        try:
            ip, status, headers, _body = self.request("GET", url, authenticate=False)
        except _StepFailed as exc:
            self.attempts.append(Attempt(step, FAILED, str(exc), exc.address))
            return ""
        location = headers.get("location", "")
        if status == 302 and location.lower().startswith("https://"):
            self.attempts.append(Attempt(step, REDIRECTED, f"HTTP 302 to {location}", ip, status))
            return location
        expected = "a 302 redirect to an https URL" if status == 302 else "a 302 redirect"
        self.attempts.append(Attempt(step, FAILED, f"HTTP {status}; expected {expected}", ip, status))
        return ""

    def srv(self, domain: str) -> list[str]:
        name = f"_autodiscover._tcp.{domain}"
        step = f"SRV {name}"
        try:
            records = [r for r in self.resolver.resolve_srv(name) if r.target != "."]
        except LabLookupError as exc:
            self.attempts.append(Attempt(step, FAILED, f"DNS: {exc}"))
            return []
        if not records:
            self.attempts.append(Attempt(step, FAILED, 'DNS: the SRV record says "." (no service here)'))
            return []
        targets = ", ".join(f"{r.target} port {r.port}" for r in records)
        self.attempts.append(Attempt(step, REDIRECTED, f"SRV points to {targets}"))
        return [f"https://{r.target}{'' if r.port == 443 else f':{r.port}'}{AUTODISCOVER_PATH}" for r in records]

    # --- one HTTP exchange -------------------------------------------------

    def request(self, method: str, url: str, body: bytes | None = None, *,
                authenticate: bool = True) -> tuple[str, int, dict[str, str], bytes]:
        """Resolve, connect, (TLS,) send; (ip, status, lower-case headers, body) or :class:`_StepFailed`."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        try:
            ip = self.resolver.resolve_a(host)[0]
        except LabLookupError as exc:
            raise _StepFailed(f"DNS: {exc}") from None
        connection = self._connect(parts, ip)
        headers = {"User-Agent": self.user_agent}
        if authenticate:
            headers["Authorization"] = self.authorization
        if body is not None:
            headers["Content-Type"] = "text/xml"
        try:
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            connection.request(method, target, body=body, headers=headers)
            response = connection.getresponse()
            return ip, response.status, {k.lower(): v for k, v in response.getheaders()}, response.read(MAX_BODY)
        except (OSError, http.client.HTTPException) as exc:
            raise _StepFailed(f"HTTP: the connection failed during the request: {exc}", ip) from None
        finally:
            connection.close()

    def _connect(self, parts: SplitResult, ip: str) -> http.client.HTTPConnection:
        """A connection to ``ip`` (the port mapped as the lab publishes it) that speaks for the URL's host:
        the Host header and, over TLS, SNI and the certificate check use the name, not the address."""
        secure = parts.scheme.lower() == "https"
        port = parts.port or (443 if secure else 80)
        lab_port = self.port_map.get(port, port)
        try:
            sock = socket.create_connection((ip, lab_port), timeout=self.timeout)
        except OSError as exc:
            raise _StepFailed(f"TCP: cannot connect to {ip} port {lab_port}: {exc.strerror or exc}", ip) from None
        if not secure:
            connection = http.client.HTTPConnection(parts.hostname, port, timeout=self.timeout)
            connection.sock = sock
            return connection
        try:
            tls = self.trust.wrap_socket(sock, server_hostname=parts.hostname)
        except ssl.SSLCertVerificationError as exc:
            sock.close()
            raise _StepFailed(f"TLS: the certificate of {parts.hostname} was not accepted: "
                              f"{exc.verify_message}", ip) from None
        except (ssl.SSLError, OSError) as exc:
            sock.close()
            raise _StepFailed(f"TLS: the handshake with {parts.hostname} failed: {exc}", ip) from None
        connection = http.client.HTTPSConnection(parts.hostname, port, timeout=self.timeout, context=self.trust)
        connection.sock = tls
        return connection
