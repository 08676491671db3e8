"""Forms-based authentication (FBA) on the Exchange vdirs, as Exchange 2003 SP2 did it.

Exchange 2003 switched FBA on per HTTP virtual server (ESM, Exchange Virtual
Server, Settings tab, "Enable Forms Based Authentication"); the setting lived
in Active Directory and DS2MB copied it into the IIS metabase of the vdirs ESM
knew (/Exchange, /Public). A vdir made by hand in IIS Manager, such as
KB817379's /exchange-oma, therefore never had it. The lab keeps it as the vdir
property ``FormsBasedAuthentication``.

Exchange's cookie-authentication filter then owned those vdirs:

* HTTP authentication no longer worked there: a request without a valid
  session cookie got the filter's answer even when it carried Basic or NTLM
  credentials. A browser GET (no ``Translate: f``) was redirected to
  ``/exchweb/bin/auth/owalogon.asp?url=<the URL>&reason=0``; every other
  request (WebDAV, OWA's XMLHTTP) got ``440 Login Timeout`` with the cookies
  cancelled. A browser whose session had timed out is sent back to the
  logon form, which then says so. This is how MASSYNC, which speaks WebDAV with NTLM and
  cannot fill in a form, loses its way to the mailbox (PITFALLS 2.6).
* FBA needs SSL: the credentials travel in a form and a cookie. A request on
  a plain-HTTP connection is refused with 403.4, unless ``SSLOffloaded``
  (KB327800) says an SSL accelerator in front ended the TLS session.

The session cookies carry Exchange 2003's names: ``sessionid`` (a GUID and
the LCID) and ``cadata`` (the secret). Sessions live in the host process:
restarting it logs everyone off, as an IIS restart did. They expire after
``PublicClientTimeout`` or ``TrustedClientTimeout`` minutes without a request
(KB830827), depending on "Public or shared computer" / "Private computer".
"""
from __future__ import annotations

import hashlib
import hmac
import html
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable
from urllib.parse import quote
from weakref import WeakKeyDictionary

from webob import Response

from host.auth.base import AuthScheme, Identity
from host.errors import ERROR_ACCESS_DENIED, HttpError
from host.hookspecs import hookimpl
from host.metabase import VDIR, ConversionError, Property
from host.regfile import RegType

if TYPE_CHECKING:  # pragma: no cover
    from host.directory import User
    from host.request import Request
    from host.service import WebService

FBA_PROPERTY = "FormsBasedAuthentication"
OWA_KEY = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\MSExchangeWeb\OWA"
LOGON_PAGE = "/exchweb/bin/auth/owalogon.asp"
SESSION_COOKIE, SECRET_COOKIE = "sessionid", "cadata"
AUTH_TYPE = "Forms"
CADATA_VERSION = "2"  # cadata's format version, before the comma
LCID = "0x409"  # English (United States): OWA appended the user's language to the session id
_MAX_MINUTES = 43200  # 30 days, the largest time-out KB830827 allows

# The "reason" of owalogon.asp: why the logon form is shown (the lab's numbering).
REASON_NONE, REASON_LOGON_FAILED, REASON_TIMED_OUT = 0, 2, 3


# --- registry.ini -------------------------------------------------------------------


def _minutes(value: int) -> int:
    if not 1 <= value <= _MAX_MINUTES:
        raise ConversionError(f"{value} minutes is outside 1 to {_MAX_MINUTES} (30 days), the range KB830827 gives")
    return value


@hookimpl
def register_registry_properties() -> list[Property]:
    dword = RegType.REG_DWORD
    return [
        Property(FBA_PROPERTY, dword, (VDIR,), False,
                 "1 = forms-based authentication (ESM: Exchange Virtual Server, Settings, \"Enable Forms Based "
                 "Authentication\"): requests without an OWA session cookie are sent to the logon page "
                 "(GET) or answered 440 Login Timeout; HTTP authentication no longer works here and SSL is "
                 "required. Set it on the Exchange store vdirs (/Exchange, /Public).",
                 convert=bool),
        Property("PublicClientTimeout", dword, (OWA_KEY,), 15,
                 "Minutes without a request after which a forms-based session from a \"Public or shared "
                 "computer\" ends (KB830827).", convert=_minutes),
        Property("TrustedClientTimeout", dword, (OWA_KEY,), 1440,
                 "Minutes without a request after which a forms-based session from a \"Private computer\" "
                 "ends (KB830827); never shorter than PublicClientTimeout.", convert=_minutes),
        Property("SSLOffloaded", dword, (OWA_KEY,), False,
                 "1 = an SSL accelerator in front ends the TLS session (KB327800): OWA and forms-based "
                 "authentication accept plain-HTTP requests as if they were HTTPS.", convert=bool),
    ]


def idle_timeout(config, trusted: bool) -> float:
    """Seconds a session may stay idle; a private computer never gets less than a public one."""
    public = config.registry_value(OWA_KEY, "PublicClientTimeout")
    private = max(config.registry_value(OWA_KEY, "TrustedClientTimeout"), public)
    return 60.0 * (private if trusted else public)


def is_secure(req: Request) -> bool:
    """Whether the client reached OWA over SSL: this connection, or an accelerator before it."""
    return req.tls is not None or bool(req.config.registry_value(OWA_KEY, "SSLOffloaded"))


def require_ssl(req: Request) -> None:
    if not is_secure(req):
        raise HttpError(403, 4, ERROR_ACCESS_DENIED,
                        detail="Forms-based authentication is on: Outlook Web Access needs SSL.")


# --- sessions -----------------------------------------------------------------------


@dataclass
class FormsSession:
    """One logon through owaauth.dll: whose it is and when it was last used."""

    session_id: str
    secret_digest: bytes
    logon_name: str
    auth_user: str  # the name as typed in the form (AUTH_USER)
    trusted: bool
    last_used: float


@dataclass
class SessionTable:
    """The sessions of one service. ``clock`` is a seam for tests (monotonic seconds)."""

    clock: Callable[[], float] = time.monotonic
    _sessions: dict[str, FormsSession] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def create(self, user: User, auth_user: str, trusted: bool) -> tuple[FormsSession, str]:
        """A new session and the secret that goes into the ``cadata`` cookie."""
        secret = secrets.token_urlsafe(32)
        session = FormsSession(str(uuid.uuid4()), _digest(secret), user.logon_name, auth_user, trusted, self.clock())
        with self._lock:
            self._sessions[session.session_id] = session
        return session, secret

    def touch(self, session_id: str, secret: str, timeout: Callable[[FormsSession], float]) -> FormsSession | None:
        """The live session these cookies name, its idle clock restarted; None when unknown or
        timed out (a timed-out session is forgotten, so its cookies never work again)."""
        now = self.clock()
        with self._lock:
            self._forget_expired(now, timeout)
            session = self._sessions.get(session_id)
            if session is None or not hmac.compare_digest(session.secret_digest, _digest(secret)):
                return None
            session.last_used = now
            return session

    def end(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)

    def _forget_expired(self, now: float, timeout: Callable[[FormsSession], float]) -> None:
        expired = [sid for sid, s in self._sessions.items() if now - s.last_used > timeout(s)]
        for sid in expired:
            del self._sessions[sid]


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


_TABLES: WeakKeyDictionary = WeakKeyDictionary()
_TABLES_LOCK = threading.Lock()


def sessions(service: WebService) -> SessionTable:
    """The forms-based sessions of ``service``, made on first use."""
    with _TABLES_LOCK:
        table = _TABLES.get(service)
        if table is None:
            table = _TABLES[service] = SessionTable()
        return table


@dataclass(frozen=True)
class SessionCookies:
    """What the browser sent: the session id (without the LCID) and the secret, if both."""

    session_id: str
    secret: str

    @classmethod
    def of(cls, req: Request) -> SessionCookies | None:
        session_id = req.cookies.get(SESSION_COOKIE, "").split(",", 1)[0].strip()
        version, _, secret = req.cookies.get(SECRET_COOKIE, "").strip().strip('"').partition(",")
        return cls(session_id, secret) if session_id and version == CADATA_VERSION and secret else None


def current_session(req: Request) -> FormsSession | None:
    """The request's live session, if its cookies name one (and restart its idle clock)."""
    cookies = SessionCookies.of(req)
    if cookies is None:
        return None
    config = req.config
    return sessions(req.service).touch(cookies.session_id, cookies.secret, lambda s: idle_timeout(config, s.trusted))


def session_cookie_headers(req: Request, session: FormsSession, secret: str) -> list[tuple[str, str]]:
    """Set-Cookie as owaauth.dll sent them; Secure whenever the connection is TLS."""
    secure = "; secure" if req.tls is not None else ""
    return [("Set-Cookie", f"{SESSION_COOKIE}={session.session_id},{LCID}; HttpOnly{secure}; path=/"),
            ("Set-Cookie", f'{SECRET_COOKIE}="{CADATA_VERSION},{secret}"; HttpOnly{secure}; path=/')]


def cancel_cookie_headers() -> list[tuple[str, str]]:
    expired = "path=/; expires=Thu, 01-Jan-1970 00:00:00 GMT"
    return [("Set-Cookie", f"{SESSION_COOKIE}=; {expired}"), ("Set-Cookie", f"{SECRET_COOKIE}=; {expired}")]


def logon_url(req: Request, reason: int) -> str:
    return f"{LOGON_PAGE}?url={quote(req.url, safe='')}&reason={reason}"


# --- the scheme --------------------------------------------------------------------


def _is_browser_get(req: Request) -> bool:
    """A page view: a GET without ``Translate: f``, which WebDAV clients send for the raw item."""
    return req.method in ("GET", "HEAD") and req.headers.get("Translate", "").strip().lower() != "f"


class LogonRequired(HttpError):
    """The filter's answer raised where only an error can be (a request with credentials):
    the logon redirect or 440, with their own bodies rather than an IIS error page."""

    def __init__(self, status: int, phrase: str, headers: list[tuple[str, str]], body: str) -> None:
        super().__init__(status, 0, 0, headers=headers)
        self._phrase, self._body = phrase, body

    @property
    def phrase(self) -> str:
        return self._phrase

    def page(self) -> str:
        return self._body


_MOVED = ('<head><title>Object moved</title></head>\n<body><h1>Object Moved</h1>'
          'This object may be found <a HREF="{url}">here</a>.</body>\n')
_TIMEOUT = "<html><head><title>440 Login Timeout</title></head><body>Login Timeout</body></html>\n"


def _refusal(req: Request, reason: int) -> LogonRequired:
    if _is_browser_get(req):
        target = logon_url(req, reason)
        body = _MOVED.format(url=html.escape(target, quote=True))
        return LogonRequired(302, "Object moved", [("Location", target)], body)
    return LogonRequired(440, "Login Timeout", cancel_cookie_headers(), _TIMEOUT)


class FormsScheme(AuthScheme):
    """Exchange 2003's cookie authentication on the vdirs with ``FormsBasedAuthentication``."""

    name = "Forms-based authentication"
    # The filter ran before IIS authentication and owned these headers: with FBA on,
    # credentials in them do not log anyone on.
    authorization_schemes = ("Basic", "NTLM", "Negotiate")
    order = 0

    def enabled(self, vdir) -> bool:
        return bool(vdir.get(FBA_PROPERTY))

    def identify(self, req: Request) -> Identity | None:
        require_ssl(req)
        session = current_session(req)
        if session is None:
            return None
        user = req.service.directory.find(session.logon_name)
        if user is None or not user.account_enabled:
            sessions(req.service).end(session.session_id)
            return None
        return Identity(user, AUTH_TYPE, session.auth_user, user.logon_name)

    def authenticate(self, req: Request, scheme: str, credentials: str) -> Identity:
        identity = self.identify(req)
        if identity is not None:
            return identity
        raise _refusal(req, self._reason(req))

    def unauthenticated_response(self, req: Request) -> Response:
        refusal = _refusal(req, self._reason(req))
        return Response(status=f"{refusal.status} {refusal.phrase}", headerlist=[
            ("Content-Type", "text/html"), *refusal.headers], body=refusal.page().encode())

    @staticmethod
    def _reason(req: Request) -> int:
        """Cookies that no longer name a session mean it timed out (or its user logged off)."""
        return REASON_TIMED_OUT if SessionCookies.of(req) is not None else REASON_NONE


@hookimpl
def register_auth_schemes():
    return [FormsScheme()]
