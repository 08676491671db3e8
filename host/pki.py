"""The lab PKI: a small certificate authority that lives in the host's data directory.

A real IIS 6 server got its certificate from a CA (AD CS, a public CA, or
SelfSSL); devices trusted it only if they held that CA's root. The lab needs
the same moving parts so that trust failures are real: a root ("EASLab Root
CA"), an intermediate that issues server and client certificates (so a
binding can send its chain with or without the intermediate), and a second,
never-trusted root ("EASLab Untrusted Root") for labs where the device must
not trust the issuer.

Files are named by thumbprint (``<THUMB>.crt``, ``<THUMB>.key``,
``<THUMB>.chain.pem``); ``index.json`` only records which thumbprint plays
which role (root, intermediate, untrusted root, default server). Everything
else is read back from the certificates themselves, so the index can never
disagree with them. Writes are atomic (temp file + ``os.replace``) and
issuing happens under an inter-process lock, so two hosts starting on the
same directory end up with one root.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import json
import os
import socket
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

try:  # POSIX
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]
    import msvcrt

# Microsoft's szOID_NT_PRINCIPAL_NAME: the UPN otherName AD CS puts in user certificates.
UPN_OID = ObjectIdentifier("1.3.6.1.4.1.311.20.2.3")

ROOT_NAME = "EASLab Root CA"
INTERMEDIATE_NAME = "EASLab Issuing CA"
UNTRUSTED_ROOT_NAME = "EASLab Untrusted Root"
ORGANIZATION = "EASLab"

CA_DAYS = 3650
# AD CS backdates NotBefore by ten minutes so clocks a little behind still accept a new certificate.
CLOCK_SKEW = dt.timedelta(minutes=10)
INDEX_FILE = "index.json"
LOCK_FILE = ".lock"

Kind = Literal["root", "intermediate", "server", "client"]
Issuer = Literal["lab", "untrusted"]


@dataclass(frozen=True)
class IssuedCert:
    """One certificate in the store, with the paths a TLS stack needs."""

    thumbprint: str  # SHA-1 of the DER, uppercase hex: IIS's SSLCertHash
    kind: Kind
    subject: str  # RFC 4514
    names: tuple[str, ...]  # SAN DNS names and IPs (server), UPN and e-mail (client)
    not_before: dt.datetime
    not_after: dt.datetime
    issuer_name: str  # RFC 4514
    cert_path: Path
    key_path: Path
    chain_path: Path  # the certificate followed by its intermediate: what a TLS server sends
    certificate: x509.Certificate = field(repr=False, compare=False)

    def is_valid_at(self, when: dt.datetime) -> bool:
        """Whether ``when`` lies inside the validity period."""
        return self.not_before <= when <= self.not_after

    def covers(self, names: Iterable[str], ips: Iterable[str]) -> bool:
        """Whether every name and IP appears in the SAN (exact entries; wildcards do not count)."""
        have = {n.lower() for n in self.names}
        return all(n.lower() in have for n in names) and all(
            str(ipaddress.ip_address(ip)) in have for ip in ips
        )


def thumbprint_of(cert: x509.Certificate) -> str:
    """The thumbprint as IIS stores it: SHA-1 over the DER encoding, uppercase hex."""
    return cert.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - SHA-1 is what IIS names certs by


def normalize_thumbprint(text: str) -> str:
    """``"3a 5f ..."`` as the certificate dialog shows it, to ``"3A5F..."``."""
    return "".join(text.split()).upper()


class LabPKI:
    """The lab's certificate store in ``directory``, created on first use."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    # -- the CAs ------------------------------------------------------------

    def ensure_root(self) -> IssuedCert:
        """Create the lab root, its issuing intermediate and the untrusted root once; return the root."""
        with self._locked():
            roles = self._roles()
            before = dict(roles)
            root = self._role_cert(roles, "root")
            if root is None:
                root = self._write(*self._make_ca(ROOT_NAME, issuer=None), chain_to=None)
                roles["root"] = root.thumbprint
            if self._role_cert(roles, "intermediate") is None:
                cert, key = self._make_ca(INTERMEDIATE_NAME, issuer=self._load_pair(root))
                roles["intermediate"] = self._write(cert, key, chain_to=None).thumbprint
            if self._role_cert(roles, "untrusted_root") is None:
                untrusted = self._write(*self._make_ca(UNTRUSTED_ROOT_NAME, issuer=None), chain_to=None)
                roles["untrusted_root"] = untrusted.thumbprint
            if roles != before:
                self._save_roles(roles)
            return root

    def is_trusted_client_certificate(self, cert: x509.Certificate) -> bool:
        """Whether ``cert`` is a client certificate that chains to the lab root (IIS's 403.16 test).

        Dates are not looked at: IIS reports those separately (403.17).
        Signatures are checked link by link through the lab's CAs.
        """
        self.ensure_root()
        roles = self._roles()
        root = self._role_cert(roles, "root").certificate
        authorities = [self._role_cert(roles, "intermediate").certificate, root]
        if not _allows_client_auth(cert):
            return False
        current = cert
        for _ in authorities:  # leaf -> intermediate -> root: at most one step per CA
            issuer = next((ca for ca in authorities if _directly_issued_by(current, ca)), None)
            if issuer is None:
                return False
            if issuer == root:
                return True
            current = issuer
        return False

    def trusted_roots_pem(self) -> bytes:
        """The lab root only: what the host's "Trusted Root Certification Authorities" store holds."""
        self.ensure_root()
        return self._role_cert(self._roles(), "root").cert_path.read_bytes()

    def all_ca_pem(self) -> bytes:
        """Every CA the lab knows (both roots and the intermediate)."""
        return self._ca_pem(("root", "untrusted_root", "intermediate"))

    def client_ca_pem(self) -> bytes:
        """The two lab roots: the CAs whose client certificates the TLS layer accepts.

        Both roots, so the handshake completes and the SSL pipeline stage,
        like IIS 6, judges the issuer itself (403.16) instead of the
        connection just failing; clients send their intermediate with their
        certificate. Roots only, because OpenSSL completes a server's own chain
        from this store: with the intermediate in it, a site whose certificate
        lacks its intermediate would send it anyway and hide that mistake.
        """
        return self._ca_pem(("root", "untrusted_root"))

    def _ca_pem(self, roles: tuple[str, ...]) -> bytes:
        self.ensure_root()
        known = self._roles()
        return b"".join(self._role_cert(known, role).cert_path.read_bytes() for role in roles)

    def export_root(self, path: Path, encoding: Literal["pem", "der"] = "pem") -> Path:
        """Write the lab root where a device (or AddRootCert) can pick it up."""
        root = self.ensure_root()
        formats = {"pem": serialization.Encoding.PEM, "der": serialization.Encoding.DER}
        if encoding not in formats:
            raise ValueError(f"export_root: encoding must be 'pem' or 'der', got {encoding!r}")
        path = Path(path)
        _write_atomic(path, root.certificate.public_bytes(formats[encoding]), private=False)
        return path

    # -- issuing --------------------------------------------------------------

    def ensure_default_server_cert(self, names: Sequence[str] = (), ips: Sequence[str] = ()) -> IssuedCert:
        """The certificate a fresh binding uses: machine name, FQDN, localhost and the binding IPs.

        Reused while it covers those names and IPs and is currently valid;
        when the bindings moved to another IP, a new one is issued and becomes
        the default, as an admin would request a new certificate.
        """
        wanted = _unique([socket.gethostname(), socket.getfqdn(), "localhost", *names])
        wanted_ips = _unique(str(ipaddress.ip_address(ip)) for ip in ips)
        with self._locked():
            current = self._role_cert(self._roles(), "default_server")
            if current is not None and current.covers(wanted, wanted_ips) and current.is_valid_at(_now()):
                return current
        issued = self.issue_server(wanted, wanted_ips)
        with self._locked():
            roles = self._roles()
            roles["default_server"] = issued.thumbprint
            self._save_roles(roles)
        return issued

    def issue_server(
        self,
        names: Sequence[str],
        ips: Sequence[str] = (),
        *,
        days: int = 730,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        issuer: Issuer = "lab",
        send_intermediate: bool = True,
    ) -> IssuedCert:
        """A server (serverAuth) certificate; CN is the first name, SAN holds every name and IP.

        Dates in the past or future make expired and not-yet-valid
        certificates; ``"*.contoso.com"`` makes a wildcard certificate;
        ``issuer="untrusted"`` signs with the root no lab trust store holds.
        ``send_intermediate=False`` leaves the issuing CA out of the chain the
        site sends, as IIS does when the intermediate is missing from the
        machine's "Intermediate Certification Authorities" store: a device that
        knows only the root cannot build the chain.
        """
        if not names and not ips:
            raise ValueError("issue_server: give at least one DNS name or IP address")
        general: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
        general += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
        common_name = names[0] if names else str(ips[0])
        subject = _lab_name(common_name)
        return self._issue_leaf(
            subject, general, ExtendedKeyUsageOID.SERVER_AUTH, days, not_before, not_after, issuer,
            send_intermediate=send_intermediate,
        )

    def issue_client(
        self,
        user_principal_name: str,
        *,
        days: int = 365,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        issuer: Issuer = "lab",
    ) -> IssuedCert:
        """A user certificate as AD CS's User template issues it: clientAuth, UPN and e-mail in the SAN."""
        user, sep, domain = user_principal_name.partition("@")
        if not (user and sep and domain):
            raise ValueError(f"issue_client: {user_principal_name!r} is not a UPN like user@contoso.com")
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, user)])
        general: list[x509.GeneralName] = [
            x509.OtherName(UPN_OID, _der_utf8_string(user_principal_name)),
            x509.RFC822Name(user_principal_name),
        ]
        return self._issue_leaf(
            subject, general, ExtendedKeyUsageOID.CLIENT_AUTH, days, not_before, not_after, issuer
        )

    # -- lookup ---------------------------------------------------------------

    def find(self, thumbprint: str) -> IssuedCert | None:
        """The certificate with this thumbprint, written any way IIS or certmgr shows it."""
        thumb = normalize_thumbprint(thumbprint)
        if not thumb or not all(c in "0123456789ABCDEF" for c in thumb):
            return None
        path = self.directory / f"{thumb}.crt"
        return self._read(path) if path.exists() else None

    def list(self) -> list[IssuedCert]:
        """Every certificate in the store, CAs first, then by issue date."""
        order = {"root": 0, "intermediate": 1, "server": 2, "client": 3}
        certs = [self._read(p) for p in self.directory.glob("*.crt")]
        return sorted(certs, key=lambda c: (order[c.kind], c.not_before, c.thumbprint))

    # -- internals --------------------------------------------------------------

    def _issue_leaf(
        self,
        subject: x509.Name,
        general: list[x509.GeneralName],
        usage: ObjectIdentifier,
        days: int,
        not_before: dt.datetime | None,
        not_after: dt.datetime | None,
        issuer: Issuer,
        *,
        send_intermediate: bool = True,
    ) -> IssuedCert:
        signer_role = {"lab": "intermediate", "untrusted": "untrusted_root"}.get(issuer)
        if signer_role is None:
            raise ValueError(f"issuer must be 'lab' or 'untrusted', got {issuer!r}")
        start, end = _validity(days, not_before, not_after)
        self.ensure_root()
        signer = self._role_cert(self._roles(), signer_role)
        signer_cert, signer_key = self._load_pair(signer)
        key = _new_key()
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(signer_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, key_encipherment=True, content_commitment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=False,
                    crl_sign=False, encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.SubjectAlternativeName(general), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()), critical=False
            )
        )
        cert = builder.sign(signer_key, hashes.SHA256())
        chain_to = signer_cert if issuer == "lab" and send_intermediate else None
        with self._locked():
            return self._write(cert, key, chain_to=chain_to)

    def _make_ca(
        self, common_name: str, issuer: tuple[x509.Certificate, rsa.RSAPrivateKey] | None
    ) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
        key = _new_key()
        name = _lab_name(common_name)
        issuer_cert, issuer_key = issuer if issuer else (None, key)
        start, end = _validity(CA_DAYS, None, None)
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(issuer_cert.subject if issuer_cert else name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            # The root may sign an intermediate; the intermediate signs leaves only.
            .add_extension(
                x509.BasicConstraints(ca=True, path_length=None if issuer is None else 0), critical=True
            )
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False, key_encipherment=False, content_commitment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=True,
                    crl_sign=True, encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
            )
        )
        return builder.sign(issuer_key, hashes.SHA256()), key

    def _write(
        self, cert: x509.Certificate, key: rsa.RSAPrivateKey, *, chain_to: x509.Certificate | None
    ) -> IssuedCert:
        """Store a certificate, its key (mode 0600) and its chain file; keys are written, never shown."""
        thumb = thumbprint_of(cert)
        cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        chain_pem = cert_pem + (chain_to.public_bytes(serialization.Encoding.PEM) if chain_to else b"")
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        # Key and chain first: a .crt on disk means its companions are complete.
        _write_atomic(self.directory / f"{thumb}.key", key_pem, private=True)
        _write_atomic(self.directory / f"{thumb}.chain.pem", chain_pem, private=False)
        _write_atomic(self.directory / f"{thumb}.crt", cert_pem, private=False)
        return self._read(self.directory / f"{thumb}.crt")

    def _read(self, cert_path: Path) -> IssuedCert:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        thumb = thumbprint_of(cert)
        return IssuedCert(
            thumbprint=thumb,
            kind=_kind_of(cert),
            subject=cert.subject.rfc4514_string(),
            names=_names_of(cert),
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            issuer_name=cert.issuer.rfc4514_string(),
            cert_path=cert_path,
            key_path=cert_path.with_name(f"{thumb}.key"),
            chain_path=cert_path.with_name(f"{thumb}.chain.pem"),
            certificate=cert,
        )

    def _load_pair(self, issued: IssuedCert) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
        key = serialization.load_pem_private_key(issued.key_path.read_bytes(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return issued.certificate, key

    def _roles(self) -> dict[str, str]:
        path = self.directory / INDEX_FILE
        if not path.exists():
            return {}
        return dict(json.loads(path.read_text(encoding="utf-8")).get("roles", {}))

    def _save_roles(self, roles: dict[str, str]) -> None:
        text = json.dumps({"roles": roles}, indent=2, sort_keys=True) + "\n"
        _write_atomic(self.directory / INDEX_FILE, text.encode("utf-8"), private=False)

    def _role_cert(self, roles: dict[str, str], role: str) -> IssuedCert | None:
        thumb = roles.get(role)
        return self.find(thumb) if thumb else None

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise issuing across threads and processes sharing the directory."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.directory / LOCK_FILE, "a+b") as handle:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            else:
                handle.seek(0)
                msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
            try:
                yield
            finally:
                if fcntl is not None:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
                else:
                    handle.seek(0)
                    msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)


def _new_key() -> rsa.RSAPrivateKey:
    # RSA 2048: what IIS 6 era CAs issued and what old devices can verify (no ECDSA on Windows Mobile).
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _lab_name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
        ]
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _validity(
    days: int, not_before: dt.datetime | None, not_after: dt.datetime | None
) -> tuple[dt.datetime, dt.datetime]:
    """The validity window; a date given alone anchors the other ``days`` away."""
    length = dt.timedelta(days=days)
    if not_before is None and not_after is None:
        not_before = _now() - CLOCK_SKEW
        not_after = not_before + CLOCK_SKEW + length
    elif not_before is None:
        not_before = not_after - length
    elif not_after is None:
        not_after = not_before + length
    if not_after <= not_before:
        raise ValueError(f"not_after ({not_after}) must be later than not_before ({not_before})")
    return not_before, not_after


def _kind_of(cert: x509.Certificate) -> Kind:
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if is_ca:
        return "root" if cert.issuer == cert.subject else "intermediate"
    try:
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return "server"
    return "client" if ExtendedKeyUsageOID.CLIENT_AUTH in usages else "server"


def _allows_client_auth(cert: x509.Certificate) -> bool:
    """No EKU means any use, as Windows reads it; otherwise clientAuth must be listed."""
    try:
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return ExtendedKeyUsageOID.CLIENT_AUTH in usages


def _directly_issued_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def certificate_upn(cert: x509.Certificate) -> str | None:
    """The UPN of an AD CS-style user certificate (SAN otherName), else its first e-mail address.

    IIS's certificate mapping and the lab's cert-mapped logons use it.
    """
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    for other in san.get_values_for_type(x509.OtherName):
        if other.type_id == UPN_OID:
            return _parse_der_utf8_string(other.value)
    emails = san.get_values_for_type(x509.RFC822Name)
    return emails[0] if emails else None


def _names_of(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ()
    names: list[str] = []
    for general in san:
        if isinstance(general, x509.OtherName) and general.type_id == UPN_OID:
            names.append(_parse_der_utf8_string(general.value))
        elif isinstance(general, (x509.DNSName, x509.RFC822Name)):
            names.append(general.value)
        elif isinstance(general, x509.IPAddress):
            names.append(str(general.value))
    return tuple(names)


def _der_utf8_string(text: str) -> bytes:
    """DER UTF8String: the value of the UPN otherName."""
    data = text.encode("utf-8")
    if len(data) < 0x80:
        length = bytes([len(data)])
    else:
        size = len(data).to_bytes((len(data).bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(size)]) + size
    return b"\x0c" + length + data


def _parse_der_utf8_string(der: bytes) -> str:
    if not der or der[0] != 0x0C:
        return der.hex()
    first = der[1]
    if first < 0x80:
        return der[2 : 2 + first].decode("utf-8", "replace")
    size = first & 0x7F
    length = int.from_bytes(der[2 : 2 + size], "big")
    return der[2 + size : 2 + size + length].decode("utf-8", "replace")


def _unique(items: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for item in items:
        if item and item.lower() not in seen:
            seen[item.lower()] = item
    return list(seen.values())


def _write_atomic(path: Path, data: bytes, *, private: bool) -> None:
    """Write via a temp file in the same directory and ``os.replace``, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)  # created 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        if not private:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
