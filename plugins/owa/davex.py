"""davex.dll: Exchange 2003's WebDAV access to mailboxes, the handler of /Exchange.

registry.ini maps /Exchange (and /Public, /Exadmin) to ``davex.dll`` with a
wildcard script map, as Exchange Setup did. By the time a request arrives
here the host pipeline has done request filtering, SSL and authentication;
this handler then

1. takes the SMTP domain the vdir serves from its ``Path``
   (``\\\\.\\BackOfficeStorage\\contoso.com\\MBX``),
2. finds the mailbox whose owner has ``<first segment>@<that domain>``
   (404 otherwise: this is how a user without an address in the vdir's
   domain fails, KB886346),
3. opens it as the authenticated user, who may open only their own (403),
4. serves the request: the standard WebDAV methods through WsgiDAV over the
   store (:mod:`plugins.owa.webdav.provider`), Exchange's own methods
   (SEARCH, B*, SUBSCRIBE/POLL/UNSUBSCRIBE, mail submission) and its
   extensions of standard ones (a PROPPATCH that creates an item, a MKCOL
   body with the folder class) beside it.

MASSYNC reads and writes mailboxes only through here, over HTTP with NTLM,
so every failure it meets is one this handler really produced.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit
from weakref import WeakKeyDictionary

from wsgidav.dav_error import DAVError

from host.errors import ERROR_PATH_NOT_FOUND, HttpError
from host.hookspecs import hookimpl
from host.scriptmaps import Handler
from plugins.owa import pages
from plugins.owa.mailboxes import ensure_mailbox, visible_changes
from plugins.owa.namespace import (
    Kind, Location, MailboxNamespace, OpenedMailbox, check_access, mailbox_owner,
    quote_segment, served_domain, url_segments,
)
from plugins.owa.webdav import mailsubmission
from plugins.owa.webdav.answers import Answer, phrase, read_body
from plugins.owa.webdav.batch import ROOT_ELEMENTS, handle_batch
from plugins.owa.webdav.creation import handle_create
from plugins.owa.webdav.folders import take_mkcol_body
from plugins.owa.webdav.notification import handle_poll, handle_subscribe, handle_unsubscribe
from plugins.owa.webdav.provider import dav_application
from plugins.owa.webdav.resource import LOCATION, OPENED, store_errors
from plugins.owa.webdav.search import handle_search
from plugins.owa.webdav.subscriptions import SubscriptionTable

if TYPE_CHECKING:  # pragma: no cover
    from host.service import WebService

HANDLER_NAME = "davex.dll"
WSGIDAV_METHODS = frozenset({"PROPFIND", "PROPPATCH", "GET", "HEAD", "PUT", "DELETE", "COPY", "MOVE", "MKCOL",
                             "LOCK", "UNLOCK"})
EXCHANGE_METHODS = frozenset({"SEARCH", "SUBSCRIBE", "POLL", "UNSUBSCRIBE", *ROOT_ELEMENTS})
# What OPTIONS announces: exactly the verbs this handler serves.
ALLOW = ("OPTIONS, GET, HEAD, PUT, POST, DELETE, COPY, MOVE, MKCOL, PROPFIND, PROPPATCH, LOCK, UNLOCK, "
         "SEARCH, SUBSCRIBE, UNSUBSCRIBE, POLL, BDELETE, BCOPY, BMOVE, BPROPFIND, BPROPPATCH")

# The subscription table of each running service, for the mailbox_changed and shutdown hooks.
_SUBSCRIPTIONS: WeakKeyDictionary = WeakKeyDictionary()


class DavexApplication:
    """The WSGI application behind the ``davex.dll`` script map, one per service."""

    def __init__(self, service: WebService) -> None:
        self.service = service
        self.dav = dav_application()
        self.provider = self.dav.provider_map["/"]
        self.subscriptions = SubscriptionTable()

    def __call__(self, environ, start_response):
        if pages.is_browser_request(environ):  # OWA: a browser's GET (no "Translate: f") or form POST
            return pages.app(environ, start_response)
        method = environ.get("REQUEST_METHOD", "GET").upper()
        segments = url_segments(environ.get("PATH_INFO", ""))
        if method == "OPTIONS" and not segments:
            return self._send(start_response, _options())
        opened = self._open(environ, segments)
        if method == "OPTIONS":
            return self._send(start_response, _options())
        target = opened.namespace.locate(segments[1:])
        if method in EXCHANGE_METHODS or (target is not None and target.kind is Kind.SUBMISSION
                                          and method in ("PUT", "POST")):
            if target is None:
                raise HttpError(404, 0, ERROR_PATH_NOT_FOUND)
            return self._send(start_response, self._exchange_method(environ, method, opened, target, segments))
        if method == "PROPPATCH" and target is None and not environ.get("PATH_INFO", "").endswith("/"):
            with _as_http_errors():  # Exchange's PROPPATCH that creates an item; WsgiDAV would answer 404
                return self._send(start_response, handle_create(environ, opened, segments))
        if method == "MKCOL":
            take_mkcol_body(environ)
        if method in WSGIDAV_METHODS:
            return self._wsgidav(environ, start_response, opened)
        raise HttpError(501, 0, 0, headers=[("Allow", ALLOW)],
                        detail=f"davex.dll does not implement {method}.")

    # -- the mailbox ---------------------------------------------------------------------

    def _open(self, environ, segments: list[str]) -> OpenedMailbox:
        domain = served_domain(environ.get("APPL_PHYSICAL_PATH") or "")
        if domain is None or not segments:
            raise HttpError(404, 0, ERROR_PATH_NOT_FOUND,
                            detail="Name a mailbox: /<vdir>/<mailbox>/. This vdir's Path serves no "
                                   "mailbox store." if domain is None else "Name a mailbox: /<vdir>/<mailbox>/.")
        owner = mailbox_owner(self.service, domain, segments[0])
        check_access(environ, owner)
        store = self.service.mailstore
        if store is None:
            raise HttpError(500, 0, 0, detail="No plugin opened a mailbox store (open_mailbox_store).")
        with _as_http_errors():
            mailbox_id = ensure_mailbox(self.service, owner)
        vdir = environ.get("SCRIPT_NAME", "").encode("latin-1", "replace").decode("utf-8", "replace")
        base = quote(vdir.rstrip("/"), safe="/") + "/" + quote_segment(segments[0])
        opened = OpenedMailbox(owner, segments[0], vdir.rstrip("/"), MailboxNamespace(store, mailbox_id, base))
        environ[OPENED] = opened
        # Resources built outside WsgiDAV (SEARCH rows, batch targets) need their provider.
        environ["wsgidav.provider"] = self.provider
        return opened

    # -- Exchange's own methods --------------------------------------------------------------

    def _exchange_method(self, environ, method: str, opened: OpenedMailbox, target: Location,
                         segments: list[str]) -> Answer:
        with _as_http_errors():
            if method == "SEARCH":
                return handle_search(environ, opened, target, segments)
            if method in ROOT_ELEMENTS:
                return handle_batch(environ, opened, target, method)
            if method == "SUBSCRIBE":
                return handle_subscribe(environ, opened, target, self.subscriptions)
            if method == "POLL":
                return handle_poll(environ, opened, target, self.subscriptions)
            if method == "UNSUBSCRIBE":
                return handle_unsubscribe(environ, opened, target, self.subscriptions)
            mime = read_body(environ)
            if not mime.strip():
                raise HttpError(400, 0, 0, detail="Submit a message/rfc822 body.")
            mailsubmission.submit(environ, opened.namespace.mailbox_id, mime)
            return Answer(201, [("Content-Length", "0")])

    # -- WsgiDAV ------------------------------------------------------------------------------

    def _wsgidav(self, environ, start_response, opened: OpenedMailbox):
        """Run WsgiDAV to the end before answering, so its errors are answers and not half-sent bodies."""
        if "HTTP_DESTINATION" in environ:
            environ["HTTP_DESTINATION"] = _share_relative(environ, opened)
        environ["wsgidav.auth.user_name"] = opened.owner.logon_name
        started: dict = {}

        def capture(status, headers, exc_info=None):
            started.update(status=status, headers=list(headers))

        body_parts = self.dav(environ, capture)
        try:
            body = b"".join(body_parts)
        except DAVError as error:
            content_type, body = error.get_response_page()
            started.update(status=f"{error.value} {phrase(error.value)}",
                           headers=[("Content-Type", content_type), *(error.add_headers or [])])
        finally:
            close = getattr(body_parts, "close", None)
            if close is not None:
                close()
        head = environ.get("REQUEST_METHOD") == "HEAD"  # keeps the length GET would send
        headers = [(k, v) for k, v in started["headers"]
                   if k.lower() != "date" and (head or k.lower() != "content-length")]
        if not head:
            headers.append(("Content-Length", str(len(body))))
        if environ.get(LOCATION):
            headers.append(("Location", environ[LOCATION]))
        start_response(started["status"], headers)
        return [b"" if head else body]

    @staticmethod
    def _send(start_response, answer: Answer):
        headers = [(k, v) for k, v in answer.headers if k.lower() != "content-length"]
        start_response(answer.status_line, [*headers, ("Content-Length", str(len(answer.body)))])
        return [answer.body]


def _options() -> Answer:
    return Answer(200, [("DAV", "1, 2"), ("MS-Author-Via", "DAV"), ("Allow", ALLOW), ("Public", ALLOW),
                        ("Content-Type", "text/plain")])


def _share_relative(environ, opened: OpenedMailbox) -> str:
    """The Destination as WsgiDAV's provider sees paths: below the vdir, on this server only.

    Exchange refused a Destination on another server or outside its vdir
    with 502 Bad Gateway; WsgiDAV would compare it to a mount path fixed at
    start-up, but the vdir here is whatever name the request used. A
    folder's permanent URL is given as its path, which WsgiDAV can check.
    """
    destination = environ["HTTP_DESTINATION"]
    netloc = urlsplit(destination).netloc if "://" in destination else ""
    if netloc and netloc.casefold() != environ.get("HTTP_HOST", "").casefold():
        raise HttpError(502, 0, 0, detail="The Destination names another server.")
    segments = opened.segments_of(destination)
    if segments is None:
        raise HttpError(502, 0, 0, detail="The Destination is outside this virtual directory.")
    path = "/" + "/".join(quote_segment(s) for s in opened.path_form(segments))
    return path + "/" if urlsplit(destination).path.endswith("/") and segments else path


@contextmanager
def _as_http_errors() -> Iterator[None]:
    """Store refusals in Exchange's own methods as IIS error pages with the same statuses."""
    try:
        with store_errors():
            yield
    except DAVError as error:
        raise HttpError(error.value, 0, 0, detail=str(error.context_info or "")) from None


# --- the plugin -------------------------------------------------------------------------------


def _factory(service: WebService) -> DavexApplication:
    application = DavexApplication(service)
    _SUBSCRIPTIONS[service] = application.subscriptions
    return application


@hookimpl
def register_handlers():
    return [Handler(HANDLER_NAME, _factory, "Exchange 2003 WebDAV access to mailboxes (/Exchange)")]


@hookimpl
def mailbox_changed(service, mailbox_id, folder_ids, change_number):
    table = _SUBSCRIPTIONS.get(service)
    if table is not None and table.watches(mailbox_id):
        table.changed(mailbox_id, folder_ids, visible=visible_changes(service.mailstore, mailbox_id, folder_ids))


@hookimpl
def host_stopping(service):
    """Held POLLs answer before the listeners close, instead of holding up the shutdown."""
    table = _SUBSCRIPTIONS.get(service)
    if table is not None:
        table.close()
