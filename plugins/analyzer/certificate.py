"""ExRCA's "Testing the SSL certificate to make sure it's valid." and its three sub-tests.

OpenSSL stops at the first problem it finds, but ExRCA reports name, trust
and dates separately. So each sub-test is its own real TLS handshake whose
verification OpenSSL narrows to one question:

* name: the server's own certificate is the trust anchor
  (``VERIFY_X509_PARTIAL_CHAIN``) and dates are not looked at
  (``X509_V_FLAG_NO_CHECK_TIME``), so only the host name can fail;
* trust: the analyzer's root store, no host name check, no dates;
* dates: the certificate as its own anchor, no host name check.

The step itself passes or fails with one full handshake (roots, name and
dates), exactly as a device's would.
"""
from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from device import PeerCertificate
from device.profiles import Published
from host.tls import VERIFY_NO_CHECK_TIME

from .report import FAILURE, WARNING, Step

TITLE = "Testing the SSL certificate to make sure it's valid."
NAME_TITLE = "Validating the certificate name."
TRUST_TITLE = "Certificate trust is being validated."
DATE_TITLE = "Testing the certificate date to confirm the certificate is valid."
EXPIRED, NOT_YET_VALID = 10, 9  # OpenSSL X509_V_ERR_CERT_HAS_EXPIRED, X509_V_ERR_CERT_NOT_YET_VALID


@dataclass
class Handshake:
    """One TLS handshake's outcome: the server's certificate (DER) or OpenSSL's complaint."""

    der: bytes | None
    error: ssl.SSLError | OSError | None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def reason(self) -> str:
        if isinstance(self.error, ssl.SSLCertVerificationError):
            return f"{self.error.verify_message} (OpenSSL error {self.error.verify_code})"
        return str(self.error)


def handshake(published: Published, context: ssl.SSLContext, timeout: float = 10) -> Handshake:
    """Connect to where the URL leads and complete (or fail) a TLS handshake, SNI = the URL's host."""
    try:
        with socket.create_connection((published.ip, published.lab_port), timeout) as sock:
            with context.wrap_socket(sock, server_hostname=published.host) as tls:
                return Handshake(tls.getpeercert(binary_form=True), None)
    except (ssl.SSLError, OSError) as exc:
        return Handshake(None, exc)


def _context(*, cafile: str | None = None, cadata: str | None = None, check_hostname: bool,
             check_time: bool = True, partial_chain: bool = False) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = check_hostname
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cafile=cafile, cadata=cadata)
    if not check_time:
        context.verify_flags |= VERIFY_NO_CHECK_TIME
    if partial_chain:
        context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    return context


def fetch_certificate(published: Published) -> Handshake:
    """The certificate the server presents, accepted without any check (to look at it)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return handshake(published, context)


def check_certificate(published: Published, roots: str, *, ignore_trust: bool = False) -> tuple[Step, bytes | None]:
    """The certificate step with its sub-tests, and the server's certificate (None if none came)."""
    step = Step(TITLE)
    full = handshake(published, _context(cafile=roots, check_hostname=True))
    presented = full if full.ok else fetch_certificate(published)
    if presented.der is None:
        step.fail("The certificate couldn't be validated because SSL negotiation wasn't successful.",
                  f"{published.host} ({published.ip}:{published.lab_port}): {presented.reason}")
        return step, None
    peer = PeerCertificate.from_der(presented.der)
    leaf = x509.load_der_x509_certificate(presented.der).public_bytes(serialization.Encoding.PEM).decode()
    step.details += [f"Subject {peer.subject}, issuer {peer.issuer}", f"Names: {', '.join(peer.names) or 'none'}"]

    name = handshake(published, _context(cadata=leaf, check_hostname=True, check_time=False, partial_chain=True))
    step.child(_name_step(name, published.host, peer))
    trust = handshake(published, _context(cafile=roots, check_hostname=False, check_time=False))
    trust_step = step.child(_trust_step(trust, peer, ignore_trust))
    dates = handshake(published, _context(cadata=leaf, check_hostname=False, partial_chain=True))
    step.child(_date_step(dates, peer))

    if full.ok:
        step.summary = "The certificate passed all validation requirements."
    elif ignore_trust and trust_step.result == WARNING and all(c.result != FAILURE for c in step.children):
        step.warn("The certificate passed validation except for trust, which was ignored as requested.")
    else:
        step.fail("The certificate couldn't be validated.", f"The full handshake failed: {full.reason}")
    return step, presented.der


def _name_step(result: Handshake, host: str, peer: PeerCertificate) -> Step:
    step = Step(NAME_TITLE)
    if result.ok:
        where = "Subject Alternative Name entry" if peer.dns_names or peer.ip_addresses else "Subject common name"
        step.summary = "The certificate name was validated successfully."
        step.details.append(f"Host name {host} was found in the Certificate {where}.")
        return step
    return step.fail("The certificate name couldn't be validated.",
                     f"Host name {host} doesn't match any name found on the server certificate {peer.subject} "
                     f"(names: {', '.join(peer.names) or 'none'}).", result.reason)


def _trust_step(result: Handshake, peer: PeerCertificate, ignore: bool) -> Step:
    step = Step(TRUST_TITLE)
    if result.ok:
        step.summary = "The certificate is trusted and all certificates are present in the chain."
        return step
    summary = "Certificate trust validation failed."
    detail = (f"The certificate chain couldn't be built to a trusted root: {result.reason}. "
              f"The certificate was issued by {peer.issuer}.")
    if ignore:
        return step.warn(summary + " Trust is ignored for this test.", detail)
    return step.fail(summary, detail)


def _date_step(result: Handshake, peer: PeerCertificate) -> Step:
    step = Step(DATE_TITLE)
    valid = f"NotBefore = {peer.not_before:%Y-%m-%d %H:%M:%S} UTC, NotAfter = {peer.not_after:%Y-%m-%d %H:%M:%S} UTC"
    if result.ok:
        step.summary = "Date validation passed. The certificate hasn't expired."
        step.details.append(f"The certificate is valid. {valid}")
        return step
    code = getattr(result.error, "verify_code", None)
    summary = {EXPIRED: "Date validation failed. The certificate has expired.",
               NOT_YET_VALID: "Date validation failed. The certificate isn't valid yet."}.get(
                   code, "Date validation failed.")
    return step.fail(summary, f"Validity period: {valid}.", result.reason)

