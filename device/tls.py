"""How a device trusts (or refuses) the server certificate, and what it presents itself.

A device validates the server like any TLS client: chain to a root in its
store, name match, validity dates (PITFALLS §2.9). Those checks are
OpenSSL's, fed by a real PEM trust store, so a lab that breaks trust breaks
the handshake for the real reason. What OpenSSL cannot express, a device's
own quirks, goes through ``certificate_check``: a function that sees the
accepted certificate and may still refuse it, e.g. ``refuse_wildcard_names``
for Windows Mobile 5, which matched names exactly.

``verify=False`` is the WM5 registry value ``secure=0``: no checks at all.
The connection then reports ``TlsInfo.verified = False`` so a lab check can
call such a "fix" insecure instead of accepting it.

``post_handshake_auth`` is the device's ability to answer a certificate
request after the handshake (TLS 1.3 post-handshake auth, the lab's stand-in
for IIS 6's renegotiation, PITFALLS §2.1). An old device cannot.
"""
from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from .errors import TlsError, TlsFailure

# OpenSSL X509_V_ERR_* values (x509_vfy.h) and what a device makes of them.
_VERIFY_FAILURES: dict[int, TlsFailure] = {
    2: TlsFailure.UNTRUSTED_ROOT,  # UNABLE_TO_GET_ISSUER_CERT
    9: TlsFailure.DATE_INVALID,  # CERT_NOT_YET_VALID
    10: TlsFailure.DATE_INVALID,  # CERT_HAS_EXPIRED
    18: TlsFailure.UNTRUSTED_ROOT,  # DEPTH_ZERO_SELF_SIGNED_CERT
    19: TlsFailure.UNTRUSTED_ROOT,  # SELF_SIGNED_CERT_IN_CHAIN
    20: TlsFailure.UNTRUSTED_ROOT,  # UNABLE_TO_GET_ISSUER_CERT_LOCALLY
    21: TlsFailure.UNTRUSTED_ROOT,  # UNABLE_TO_VERIFY_LEAF_SIGNATURE
    24: TlsFailure.UNTRUSTED_ROOT,  # INVALID_CA
    27: TlsFailure.UNTRUSTED_ROOT,  # CERT_UNTRUSTED
    62: TlsFailure.NAME_MISMATCH,  # HOSTNAME_MISMATCH
    64: TlsFailure.NAME_MISMATCH,  # IP_ADDRESS_MISMATCH
}


@dataclass(frozen=True)
class PeerCertificate:
    """The server's leaf certificate, as far as a device looks at it."""

    der: bytes
    subject: str
    issuer: str
    common_name: str | None
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    not_before: datetime
    not_after: datetime
    sha256: str

    @classmethod
    def from_der(cls, der: bytes) -> PeerCertificate:
        cert = x509.load_der_x509_certificate(der)
        cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            dns = tuple(san.get_values_for_type(x509.DNSName))
            ips = tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
        except x509.ExtensionNotFound:
            dns, ips = (), ()
        return cls(der=der, subject=cert.subject.rfc4514_string(), issuer=cert.issuer.rfc4514_string(),
                   common_name=str(cns[0].value) if cns else None, dns_names=dns, ip_addresses=ips,
                   not_before=cert.not_valid_before_utc, not_after=cert.not_valid_after_utc,
                   sha256=cert.fingerprint(hashes.SHA256()).hex())

    @property
    def names(self) -> tuple[str, ...]:
        """The names a client matches: the SANs, or the CN when there are none (RFC 2818 3.1)."""
        if self.dns_names or self.ip_addresses:
            return self.dns_names + self.ip_addresses
        return (self.common_name,) if self.common_name else ()


#: A device's own certificate check: return a failure to refuse, None to accept.
CertificateCheck = Callable[[PeerCertificate, str], "TlsFailure | None"]


def refuse_wildcard_names(peer: PeerCertificate, host: str) -> TlsFailure | None:
    """Match the host against exact names only, as Windows Mobile 5 did.

    A ``*.contoso.com`` certificate that OpenSSL accepts for
    ``mail.contoso.com`` is a name mismatch to such a device (PITFALLS §2.9).
    """
    wanted = _normal_host(host)
    exact = {_normal_host(name) for name in peer.names if not name.startswith("*")}
    return None if wanted in exact else TlsFailure.NAME_MISMATCH


def _normal_host(name: str) -> str:
    try:
        return str(ipaddress.ip_address(name.strip("[]")))
    except ValueError:
        return name.rstrip(".").lower()


@dataclass(frozen=True)
class TlsSettings:
    """The device's TLS configuration.

    ``ca_file`` is the device's root store (PEM); None means the system store.
    """

    ca_file: str | Path | None = None
    verify: bool = True
    check_hostname: bool = True
    client_cert: str | Path | None = None
    client_key: str | Path | None = None
    post_handshake_auth: bool = True
    certificate_check: CertificateCheck | None = field(default=None, compare=False)

    def context(self) -> ssl.SSLContext:
        """A fresh client context for one connection's handshake."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if self.verify:
            context.check_hostname = self.check_hostname
            context.verify_mode = ssl.CERT_REQUIRED
            if self.ca_file is not None:
                context.load_verify_locations(cafile=str(self.ca_file))
            else:
                context.load_default_certs()
        else:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.client_cert is not None:
            context.load_cert_chain(str(self.client_cert), str(self.client_key) if self.client_key else None)
        context.post_handshake_auth = self.post_handshake_auth
        return context


@dataclass(frozen=True)
class TlsInfo:
    """What the handshake established, for reports."""

    version: str | None
    cipher: str | None
    peer: PeerCertificate | None
    verified: bool
    hostname_checked: bool


def classify(error: ssl.SSLError) -> TlsError:
    """Turn OpenSSL's complaint into the failure a device would report."""
    if isinstance(error, ssl.SSLCertVerificationError):
        failure = _VERIFY_FAILURES.get(error.verify_code, TlsFailure.CERTIFICATE_INVALID)
        return TlsError(failure, error.verify_message or str(error), verify_code=error.verify_code)
    reason = getattr(error, "reason", None) or ""
    if "CERTIFICATE_REQUIRED" in reason:  # TLS 1.3 alert 116: we had no certificate to give
        return TlsError(TlsFailure.CLIENT_CERTIFICATE_NEEDED, reason)
    return TlsError(TlsFailure.HANDSHAKE_FAILURE, reason or str(error))
