"""Which page a browser request to /exchange gets.

davex.dll served both WebDAV and OWA on the same URLs; what told them apart
was the request. Exchange read ``Translate: f`` as "the resource itself"
(WebDAV, MASSYNC) and its absence as "render it" (a browser), and OWA's
forms post ``application/x-www-form-urlencoded``. :func:`is_browser_request`
makes that decision for davex.dll, which hands such requests to :func:`app`.

The page is chosen by what the URL names (mailbox, folder, item) and the
``Cmd`` query parameter, as in OWA 2003 (``?Cmd=new``, ``?Cmd=reply``).
"""
from __future__ import annotations

from typing import Callable

from host.errors import ERROR_PATH_NOT_FOUND, HttpError
from host.request import Request
from plugins.owa.mailbox import FolderType
from plugins.owa.namespace import Kind, Location, quote_segment, served_domain, url_segments
from plugins.owa.pages import folders, options, reading, rendering, sending
from plugins.owa.pages.mailboxview import MailboxView

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

Page = Callable[[MailboxView, Location], object]
ROUTES: dict[tuple[Kind, str, str], Page] = {
    (Kind.MAILBOX, "GET", ""): lambda view, _: _inbox(view),
    (Kind.MAILBOX, "GET", "new"): lambda view, _: sending.compose_new(view),
    (Kind.MAILBOX, "POST", "send"): lambda view, _: sending.send(view),
    (Kind.MAILBOX, "GET", "options"): lambda view, _: options.show(view),
    (Kind.MAILBOX, "POST", "options"): lambda view, _: options.save(view),
    (Kind.FOLDER, "GET", ""): lambda view, at: folders.show(view, at.folder),
    (Kind.ITEM, "GET", ""): lambda view, at: reading.show(view, at.item),
    (Kind.ITEM, "GET", "open"): lambda view, at: reading.show(view, at.item),
    (Kind.ITEM, "GET", "attachment"): lambda view, at: reading.download(view, at.item),
    (Kind.ITEM, "POST", "delete"): lambda view, at: reading.delete(view, at.item),
    **{(Kind.ITEM, "GET", action): (lambda view, at, action=action: sending.compose_answer(view, at.item, action))
       for action in ("reply", "replyall", "forward")},
}


def is_browser_request(environ) -> bool:
    """Whether davex.dll should render a page rather than answer as WebDAV."""
    method = environ.get("REQUEST_METHOD", "GET").upper()
    if method in ("GET", "HEAD"):
        return environ.get("HTTP_TRANSLATE", "").strip().lower() != "f"
    if method == "POST":
        return environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower() in _FORM_TYPES
    return False


def app(environ, start_response):
    """The OWA pages, as a WSGI application behind davex.dll's script map."""
    req = Request(environ)
    segments = url_segments(environ.get("PATH_INFO", ""))
    if not segments:
        response = _own_mailbox(req)
    else:
        view = MailboxView.open(req, segments[0])
        response = _page(view, view.namespace.locate(segments[1:]))
    return response(environ, start_response)


def _page(view: MailboxView, location: Location | None):
    method = "GET" if view.req.method == "HEAD" else view.req.method
    command = view.req.GET.get("Cmd", "").casefold()
    page = ROUTES.get((location.kind, method, command)) if location is not None else None
    if page is None:
        detail = "Outlook Web Access has no page for this URL" + (f" and Cmd={command}." if command else ".")
        raise HttpError(404, 0, ERROR_PATH_NOT_FOUND, detail=detail)
    return page(view, location)


def _inbox(view: MailboxView):
    """The mailbox itself shows nothing: OWA opened on the Inbox."""
    return rendering.redirect(view.folder_url(view.default_folder(FolderType.INBOX)), status=302)


def _own_mailbox(req: Request):
    """``/exchange/`` opens the user's own mailbox: their address in the vdir's SMTP domain."""
    domain = served_domain(req.environ.get("APPL_PHYSICAL_PATH") or "")
    identity = req.identity
    if domain is not None and identity is not None and not identity.anonymous:
        for address in identity.user.smtp_addresses():
            local, _, address_domain = address.rpartition("@")
            if address_domain.casefold() == domain:
                return rendering.redirect(req.script_name.rstrip("/") + "/" + quote_segment(local) + "/", status=302)
    raise HttpError(404, 0, ERROR_PATH_NOT_FOUND, detail="Name a mailbox: /<vdir>/<mailbox>/.")
