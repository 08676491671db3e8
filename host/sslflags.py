"""The SSL stage: ``AccessSSLFlags`` against the real connection.

* AccessSSL (8) on a plain connection: 403.4; AccessSSL128 (256) with a
  cipher under 128 bits: 403.5.
* AccessSSLNegotiateCert (32) / AccessSSLRequireCert (64): IIS 6 learns the
  vdir only after reading the request, so it asks for a client certificate
  with a renegotiation. The lab does the modern equivalent, TLS 1.3
  post-handshake authentication. As on IIS 6, the request body must first be
  read completely within ``UploadReadAheadSize`` (else 413); a client that
  cannot answer (no post-handshake support, like an old device that cannot
  renegotiate) loses the connection even on "accept" (logged as 403.7). Require without a certificate:
  403.7; a certificate that does not chain to a trusted root: 403.16; expired
  or not yet valid: 403.17.
* AccessSSLMapCert (128): the certificate's UPN maps to a directory user,
  who is then the request's user (AUTH_TYPE "SSL/PCT"); 403.12 when the
  certificate maps to no enabled user.
"""
from __future__ import annotations

import io
from datetime import datetime, timezone

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from host.errors import ERROR_ACCESS_DENIED, HttpError
from host.hookspecs import hookimpl
from host.metabase import ACCESS_SSL_FLAGS
from host.pipeline import SSL, PipelineStage
from host.pki import certificate_upn

ACCESS_SSL = ACCESS_SSL_FLAGS["AccessSSL"]
NEGOTIATE_CERT = ACCESS_SSL_FLAGS["AccessSSLNegotiateCert"]
REQUIRE_CERT = ACCESS_SSL_FLAGS["AccessSSLRequireCert"]
MAP_CERT = ACCESS_SSL_FLAGS["AccessSSLMapCert"]
ACCESS_SSL128 = ACCESS_SSL_FLAGS["AccessSSL128"]
CERT_E_UNTRUSTEDROOT = 0x800B0109
CERT_E_EXPIRED = 0x800B0101


class ConnectionLost(Exception):
    """The client could not answer the certificate request; the connection is dropped."""


def read_ahead(environ, limit: int) -> None:
    """Buffer the whole request body, as IIS does before renegotiating (UploadReadAheadSize)."""
    length_text = environ.get("CONTENT_LENGTH") or "0"
    length = int(length_text) if length_text.isdigit() else 0
    if length > limit:
        raise HttpError(413, 0, 0, detail=f"The request body ({length} bytes) exceeds UploadReadAheadSize "
                                          f"({limit} bytes), which a client-certificate renegotiation needs.")
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)


def negotiate_certificate(environ, vdir) -> x509.Certificate | None:
    """The client's certificate, asking for one after the request when needed."""
    tls = environ["host.tls"]
    cert = tls.peer_certificate()
    if cert is not None:
        return cert
    from host.tls import ClientCertificateUnavailable

    read_ahead(environ, vdir.get("UploadReadAheadSize"))
    try:
        return tls.request_client_certificate()
    except ClientCertificateUnavailable as exc:
        raise ConnectionLost(str(exc)) from None


def judge_certificate(service, cert: x509.Certificate) -> None:
    """403.17 for dates, 403.16 for a certificate that chains to no trusted root."""
    now = datetime.now(timezone.utc)
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise HttpError(403, 17, CERT_E_EXPIRED)
    if not service.pki.is_trusted_client_certificate(cert):
        raise HttpError(403, 16, CERT_E_UNTRUSTEDROOT)


def is_client_auth(cert: x509.Certificate) -> bool:
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return ExtendedKeyUsageOID.CLIENT_AUTH in eku


def ssl_stage(next_app, service):
    def app(environ, start_response):
        vdir = environ["host.vdir"]
        flags = vdir.get("AccessSSLFlags")
        tls = environ.get("host.tls")
        if tls is None:
            if flags & ACCESS_SSL:
                raise HttpError(403, 4, ERROR_ACCESS_DENIED)
            return next_app(environ, start_response)
        if flags & ACCESS_SSL128 and tls.secret_bits < 128:
            raise HttpError(403, 5, ERROR_ACCESS_DENIED)
        if flags & (NEGOTIATE_CERT | REQUIRE_CERT):
            try:
                cert = negotiate_certificate(environ, vdir)
            except ConnectionLost as lost:
                # The device breaks off, as one that cannot renegotiate did on IIS 6:
                # the listener drops the connection instead of sending this answer.
                environ["host.drop_connection"] = True
                raise HttpError(403, 7, ERROR_ACCESS_DENIED,
                                detail=f"The client could not answer the certificate request: {lost}") from None
            if cert is None and flags & REQUIRE_CERT:
                raise HttpError(403, 7, ERROR_ACCESS_DENIED)
            if cert is not None:
                judge_certificate(service, cert)
                environ["host.client_cert"] = cert
                if flags & MAP_CERT:
                    upn = certificate_upn(cert)
                    user = service.directory.find(upn) if upn else None
                    if user is None or not user.account_enabled or not is_client_auth(cert):
                        raise HttpError(403, 12, ERROR_ACCESS_DENIED,
                                        detail=f"No enabled account maps to the certificate of {upn or cert.subject.rfc4514_string()}.")
                    environ["host.cert_user"] = user
        return next_app(environ, start_response)

    return app


@hookimpl(trylast=True)
def register_pipeline_stages():
    return [PipelineStage(SSL, ssl_stage)]
