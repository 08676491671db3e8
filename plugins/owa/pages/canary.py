"""The canary: a per-session token every OWA form posts back, against cross-site requests.

A page from another site can make the browser post to /exchange with the
user's cookie or cached Basic credentials, but it cannot read the token from
our pages. The token is an HMAC over who is logged on and, with forms-based
authentication, the session id, so it changes with every logon and dies with
the session. The key is made when the host starts: a restart logs forms
sessions off anyway. (Exchange 2007's OWA named its token "canary" too.)
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from weakref import WeakKeyDictionary

from host.errors import ERROR_ACCESS_DENIED, HttpError
from plugins.owa import forms

FIELD = "canary"

_KEYS: WeakKeyDictionary = WeakKeyDictionary()
_LOCK = threading.Lock()


def _key(service) -> bytes:
    with _LOCK:
        key = _KEYS.get(service)
        if key is None:
            key = _KEYS[service] = secrets.token_bytes(32)
        return key


def token(req) -> str:
    """The canary for this request's logon."""
    cookies = forms.SessionCookies.of(req) if req.identity.auth_type == forms.AUTH_TYPE else None
    return for_logon(req.service, req.identity.user.logon_name, cookies.session_id if cookies else "")


def for_logon(service, logon_name: str, session_id: str) -> str:
    """The canary of one user's logon (``session_id`` empty without forms-based authentication)."""
    message = f"{logon_name.casefold()}\n{session_id}".encode()
    return hmac.new(_key(service), message, hashlib.sha256).hexdigest()


def matches(offered: object, expected: str) -> bool:
    """Constant-time comparison; a file upload in the field is no canary."""
    return isinstance(offered, str) and hmac.compare_digest(offered.encode(), expected.encode())


def check(req) -> None:
    """403 for a form post whose canary is missing or belongs to another logon."""
    if not matches(req.POST.get(FIELD, ""), token(req)):
        raise HttpError(403, 0, ERROR_ACCESS_DENIED,
                        detail="The form did not carry this session's canary; it may come from another site.")
