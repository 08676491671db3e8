"""Integrated Windows authentication: the server side of an NTLM or Negotiate handshake.

The cryptography is pyspnego's acceptor; this module points it at the lab
directory, turns its outcome into a directory :class:`~host.directory.User`,
and turns its failures into what IIS would log (a reason and a Win32 status).

pyspnego's acceptor reads NT hashes from the file named by the environment
variable ``NTLM_USER_FILE`` and its policy from ``LM_COMPAT_LEVEL``. Both are
process-global, so a process authenticates against one directory: creating
(or stepping) an acceptor points both variables at this acceptor's directory.
Initiators in the same process (MASSYNC's back-end hop) are unaffected: for
an initiator pyspnego behaves the same at levels 3, 4 and 5 (NTLMv2).
"""
from __future__ import annotations

import os
import struct

import spnego
from spnego import NegotiateOptions

from host.directory import Directory, User
from host.errors import ERROR_LOGON_FAILURE, SEC_E_INVALID_TOKEN

ERROR_ACCOUNT_DISABLED = 1331

_SCHEMES = {"ntlm": ("ntlm", NegotiateOptions.use_ntlm), "negotiate": ("negotiate", NegotiateOptions.use_negotiate)}
_NTLMSSP = b"NTLMSSP\x00"
_NEGOTIATE_UNICODE = 0x00000001


class NtlmLogonError(Exception):
    """The handshake failed; ``reason`` is for the event log, ``win32`` for sc-win32-status.

    1326 ERROR_LOGON_FAILURE for a wrong password or unknown user, 1331
    ERROR_ACCOUNT_DISABLED, 0x80090308 SEC_E_INVALID_TOKEN for a token that is
    not a well-formed NTLM/SPNEGO message.
    """

    def __init__(self, reason: str, win32: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.win32 = win32


class NtlmAcceptor:
    """One NTLM/Negotiate server context; lives in the TCP connection's state because NTLM
    authenticates the connection (MS-NLMP), so all legs must arrive on one connection.

    :param scheme: the ``WWW-Authenticate`` scheme, ``NTLM`` or ``Negotiate``
        (SPNEGO-wrapped NTLM; the lab has no Kerberos, so Negotiate always
        settles on NTLM).
    :param lm_compatibility_level: the acceptor half of Windows'
        ``HKLM\\SYSTEM\\CurrentControlSet\\Control\\Lsa\\LmCompatibilityLevel``:
        5 accepts NTLMv2 only, 4 also NTLMv1. Levels below 4 are refused:
        there pyspnego accepts LM responses, and since the directory keeps no
        LM hash an LM-only AUTHENTICATE message (with extended session
        security, a client challenge followed by zeros) would log anyone on
        without a password.
    """

    def __init__(self, directory: Directory, scheme: str, *, lm_compatibility_level: int = 5) -> None:
        if scheme.lower() not in _SCHEMES:
            raise ValueError(f"unknown Integrated Windows authentication scheme {scheme!r}; use NTLM or Negotiate")
        if lm_compatibility_level not in (4, 5):
            raise ValueError(
                f"LmCompatibilityLevel {lm_compatibility_level} is not supported by the acceptor; use 4 or 5"
            )
        self.scheme = "NTLM" if scheme.lower() == "ntlm" else "Negotiate"
        self.user: User | None = None
        self._directory = directory
        self._level = lm_compatibility_level
        protocol, options = _SCHEMES[scheme.lower()]
        self._point_pyspnego_here()
        self._context = spnego.server(protocol=protocol, options=options)

    @property
    def complete(self) -> bool:
        """True once the client proved its identity and :attr:`user` is set."""
        return self.user is not None

    def step(self, token: bytes) -> bytes | None:
        """Feed one client token; return the token for the next ``WWW-Authenticate`` header.

        The first leg returns the CHALLENGE (type 2). The last leg sets
        :attr:`user` and returns None for NTLM or SPNEGO's final
        accept-completed token for Negotiate, which the server sends with the
        successful response.

        :raises NtlmLogonError: bad credentials, disabled account, malformed token;
            the acceptor is spent then, the next handshake needs a new one.
        """
        if self.complete:
            raise NtlmLogonError(f"{self.scheme} handshake already complete on this connection", SEC_E_INVALID_TOKEN)
        if not token:
            raise NtlmLogonError(f"empty {self.scheme} token", SEC_E_INVALID_TOKEN)
        # The inner NTLM context of a Negotiate acceptor is created on the first
        # step and reads the hashes on the last one: point pyspnego here for both.
        self._point_pyspnego_here()
        try:
            out_token = self._context.step(token)
        except Exception as error:  # pyspnego raises SpnegoError, ValueError, struct.error... on bad input
            raise self._failure(token, error) from None
        if self._context.complete:
            self.user = self._resolve(self._context.client_principal or "")
        return out_token

    def _point_pyspnego_here(self) -> None:
        os.environ["NTLM_USER_FILE"] = str(self._directory.ntlm_user_file)
        os.environ["LM_COMPAT_LEVEL"] = str(self._level)

    def _resolve(self, principal: str) -> User:
        """Map pyspnego's client principal (the names the client sent) to the directory user."""
        user = self._directory.find(principal)
        if user is None:  # removed between the hash lookup and now
            raise NtlmLogonError(f"unknown user {principal}", ERROR_LOGON_FAILURE)
        if not user.account_enabled:
            raise NtlmLogonError(f"account {user.logon_name} is disabled", ERROR_ACCOUNT_DISABLED)
        return user

    def _failure(self, token: bytes, error: Exception) -> NtlmLogonError:
        """Classify a failed step: a readable AUTHENTICATE message means a logon failure."""
        names = _authenticate_names(token)
        if names is None:
            return NtlmLogonError(f"malformed {self.scheme} token: {error}", SEC_E_INVALID_TOKEN)
        domain, user_name = names
        if not user_name:
            return NtlmLogonError(f"anonymous {self.scheme} logon refused", ERROR_LOGON_FAILURE)
        logon = f"{domain}\\{user_name}" if domain else user_name
        user = self._directory.find(logon)
        if user is None:
            return NtlmLogonError(f"unknown user {logon}", ERROR_LOGON_FAILURE)
        if not user.account_enabled:
            return NtlmLogonError(f"account {user.logon_name} is disabled", ERROR_ACCOUNT_DISABLED)
        return NtlmLogonError(f"logon failure for {user.logon_name}: {error}", ERROR_LOGON_FAILURE)


def _authenticate_names(token: bytes) -> tuple[str, str] | None:
    """(domain, user name) from an NTLM AUTHENTICATE message, bare or inside SPNEGO.

    Used only to name the account in a failure's reason; None when the token
    holds no readable AUTHENTICATE message (MS-NLMP 2.2.1.3: DomainNameFields
    at offset 28, UserNameFields at 36, NegotiateFlags at 60).
    """
    start = token.find(_NTLMSSP)
    message = token[start:] if start >= 0 else b""
    if len(message) < 64 or struct.unpack_from("<I", message, 8)[0] != 3:
        return None
    flags = struct.unpack_from("<I", message, 60)[0]
    encoding = "utf-16-le" if flags & _NEGOTIATE_UNICODE else "ascii"
    fields = []
    for offset in (28, 36):
        length, _, position = struct.unpack_from("<HHI", message, offset)
        if position + length > len(message):
            return None
        fields.append(message[position : position + length].decode(encoding, errors="replace"))
    return fields[0], fields[1]
