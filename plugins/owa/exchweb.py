"""The forms-based logon's server side on /exchweb: owalogon.asp, owaauth.dll, owalogoff.dll.

``/exchweb/bin/auth`` allows anonymous access so that a user who is not
logged on can reach these; ``/exchweb/bin`` has Execute permission, so
naming the DLLs in the URL runs them (IIS's rule, :mod:`host.scriptmaps`).

* ``owalogon.asp`` is an ASP page: it runs through the ``.asp`` script map
  (``asp.dll``), which the lab provides only for the pages Exchange installs.
* ``owaauth.dll`` takes the logon form, checks the password against the
  directory, starts a session and redirects to ``destination`` with the
  ``sessionid`` and ``cadata`` cookies; a wrong password goes back to the
  form with ``reason=2``. Like the filter, it refuses plain HTTP with 403.4
  (unless ``SSLOffloaded``): the password must not cross the wire in clear.
* ``owalogoff.dll`` ends the session (a form post carrying the canary, so
  another site cannot log the user off) and cancels the cookies.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable
from urllib.parse import quote, urlsplit

from host.errors import ERROR_ACCESS_DENIED, ERROR_FILE_NOT_FOUND, HttpError
from host.hookspecs import hookimpl
from host.request import Request
from host.scriptmaps import Handler
from plugins.owa import forms
from plugins.owa.pages import canary, rendering
from plugins.owa.pages.logon import logged_off_page, logon_page

if TYPE_CHECKING:  # pragma: no cover
    from host.service import WebService

TRUSTED_FLAG = 4  # owalogon.asp's flags bit and trusted value for "Private computer"


def _default_destination(req: Request) -> str:
    return f"{req.host_url}/exchange/"


def _safe_destination(req: Request, destination: str) -> str:
    """``destination`` when it stays on this server, else /exchange/ (no open redirect)."""
    parts = urlsplit(destination)
    same_server = not parts.netloc or parts.netloc.casefold() == req.host.casefold()
    # Browsers read "/\host" and "//host" as another server: neither is a path here.
    if parts.scheme not in ("", "http", "https") or not same_server or not parts.path.startswith("/") \
            or destination.startswith("//") or "\\" in destination:
        return _default_destination(req)
    return destination


# --- owalogon.asp -------------------------------------------------------------------------


def owalogon(req: Request):
    if req.method not in ("GET", "HEAD"):
        raise HttpError(405, 0, 0, headers=[("Allow", "GET, HEAD")])
    reason = req.GET.get("reason", "0")
    destination = req.GET.get("url") or _default_destination(req)
    return logon_page(req, destination, int(reason) if reason.isdigit() else forms.REASON_NONE)


ASP_PAGES: dict[str, Callable[[Request], object]] = {"owalogon.asp": owalogon}


def asp(environ, start_response):
    """asp.dll, for the ASP pages Exchange 2003 installs; no other .asp file exists in the lab."""
    req = Request(environ)
    page = ASP_PAGES.get(req.path_info.rstrip("/").rsplit("/", 1)[-1].casefold())
    if page is None:
        raise HttpError(404, 0, ERROR_FILE_NOT_FOUND)
    return page(req)(environ, start_response)


# --- owaauth.dll ---------------------------------------------------------------------------


def owaauth(environ, start_response):
    req = Request(environ)
    if req.method != "POST":
        raise HttpError(405, 0, 0, headers=[("Allow", "POST")])
    forms.require_ssl(req)
    form = req.POST
    destination = _safe_destination(req, form.get("destination", "") or _default_destination(req))
    username = form.get("username", "").strip()
    trusted = form.get("trusted", "0") == str(TRUSTED_FLAG) or (
        form.get("flags", "0").isdigit() and int(form.get("flags", "0")) & TRUSTED_FLAG)
    user = req.service.directory.verify_password(username, form.get("password", ""),
                                                 default_domain=req.vdir.get("DefaultLogonDomain") or None)
    if user is None:
        retry = f"{forms.LOGON_PAGE}?url={quote(destination, safe='')}&reason={forms.REASON_LOGON_FAILED}"
        return rendering.redirect(retry, status=302)(environ, start_response)
    session, secret = forms.sessions(req.service).create(user, username, bool(trusted))
    response = rendering.redirect(destination, forms.session_cookie_headers(req, session, secret), status=302)
    return response(environ, start_response)


# --- owalogoff.dll -------------------------------------------------------------------------


def owalogoff(environ, start_response):
    req = Request(environ)
    if req.method != "POST":
        raise HttpError(405, 0, 0, headers=[("Allow", "POST")])
    session = forms.current_session(req)
    if session is not None:
        expected = canary.for_logon(req.service, session.logon_name, session.session_id)
        if not canary.matches(req.POST.get(canary.FIELD, ""), expected):
            raise HttpError(403, 0, ERROR_ACCESS_DENIED, detail="The log-off form did not carry this session's canary.")
        forms.sessions(req.service).end(session.session_id)
    response = logged_off_page(_default_destination(req))
    response.headerlist.extend(forms.cancel_cookie_headers())
    return response(environ, start_response)


# --- the plugin ------------------------------------------------------------------------------


def _constant(app):
    def factory(service: WebService):
        return app

    return factory


@hookimpl
def register_handlers():
    return [
        Handler("asp.dll", _constant(asp), "Active Server Pages: owalogon.asp, the forms-based logon page"),
        Handler("owaauth.dll", _constant(owaauth), "Outlook Web Access forms-based logon (the form's target)"),
        Handler("owalogoff.dll", _constant(owalogoff), "Outlook Web Access log off (ends the forms session)"),
    ]
