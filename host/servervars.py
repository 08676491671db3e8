"""IIS server variables in the WSGI environ, so handlers read what an ISAPI would.

Filled once, just before the handler runs, from what the stages found: the
identity, the TLS connection, the client certificate, the site and vdir.
"""
from __future__ import annotations

from cryptography import x509


def iis_name(name: x509.Name) -> str:
    """A distinguished name as IIS shows CERT_SUBJECT: ``C=US, O=Contoso, CN=alice``."""
    return ", ".join(rdn.rfc4514_string() for rdn in name.rdns)


def populate(environ) -> None:
    identity = environ.get("host.identity")
    environ["AUTH_TYPE"] = identity.auth_type if identity else ""
    environ["AUTH_USER"] = identity.auth_user if identity else ""
    environ["LOGON_USER"] = identity.logon_user if identity else ""
    environ["REMOTE_USER"] = environ["AUTH_USER"]
    environ["AUTH_PASSWORD"] = ""  # IIS fills it for Basic; the lab never hands a password on
    environ["SERVER_SOFTWARE"] = "Microsoft-IIS/6.0"
    endpoint = environ.get("host.endpoint")
    if endpoint is not None:
        environ["LOCAL_ADDR"] = endpoint.ip
    tls = environ.get("host.tls")
    environ["HTTPS"] = "on" if tls else "off"
    environ["SERVER_PORT_SECURE"] = "1" if tls else "0"
    if tls:
        environ["HTTPS_KEYSIZE"] = environ["HTTPS_SECRETKEYSIZE"] = str(tls.secret_bits)
        server_cert = tls.server_certificate
        environ["HTTPS_SERVER_SUBJECT"] = iis_name(server_cert.subject) if server_cert else ""
        environ["HTTPS_SERVER_ISSUER"] = iis_name(server_cert.issuer) if server_cert else ""
    cert = environ.get("host.client_cert")
    if cert is not None:
        environ["CERT_SUBJECT"] = iis_name(cert.subject)
        environ["CERT_ISSUER"] = iis_name(cert.issuer)
        environ["CERT_SERIALNUMBER"] = "-".join(f"{b:02x}" for b in cert.serial_number.to_bytes(
            (cert.serial_number.bit_length() + 7) // 8 or 1, "big"))
        environ["CERT_FLAGS"] = "1"  # bit 0: a certificate is present (it passed the trust check)
    else:
        for name in ("CERT_SUBJECT", "CERT_ISSUER", "CERT_SERIALNUMBER"):
            environ[name] = ""
        environ["CERT_FLAGS"] = "0"
