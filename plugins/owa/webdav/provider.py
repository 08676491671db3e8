"""The standard WebDAV methods over the mailbox store, served by WsgiDAV.

WsgiDAV does what RFC 4918 asks of PROPFIND, PROPPATCH, GET/HEAD, PUT,
DELETE, COPY, MOVE, MKCOL, LOCK and UNLOCK (Depth, Overwrite, If headers,
multistatus, dry-run PROPPATCH, the lock manager); this module tells it what
the resources are (:mod:`.folders`, :mod:`.items`). Its own authentication
is not in the middleware stack: the host pipeline has authenticated the
request, and davex.py has opened the mailbox as that user before WsgiDAV
sees the request.
"""
from __future__ import annotations

from wsgidav import util as dav_util
from wsgidav.dav_provider import DAVProvider
from wsgidav.request_resolver import RequestResolver
from wsgidav.wsgidav_app import WsgiDAVApp

from plugins.owa.mailbox import Item
from plugins.owa.namespace import Kind, Location, OpenedMailbox
from plugins.owa.webdav.folders import FolderResource, HiddenFolder, HiddenRoot, MailboxRoot, Submission
from plugins.owa.webdav.items import ItemResource, StateBlob
from plugins.owa.webdav.resource import OPENED, segments


def resource_for(path: str, environ: dict, location: Location):
    """The WsgiDAV resource for what a URL names."""
    if location.kind is Kind.MAILBOX:
        return MailboxRoot(path, environ)
    if location.kind is Kind.FOLDER:
        return FolderResource(path, environ, location.folder)
    if location.kind is Kind.ITEM:
        return ItemResource(path, environ, location.item)
    if location.kind is Kind.HIDDEN_ROOT:
        return HiddenRoot(path, environ)
    if location.kind is Kind.HIDDEN_FOLDER:
        return HiddenFolder(path, environ, location.folder)
    if location.kind is Kind.STATE:
        return StateBlob(path, environ, location.item)
    return Submission(path, environ)


def folder_resource(environ: dict, folder) -> FolderResource:
    """The resource of a folder record (SEARCH rows, batch targets)."""
    opened: OpenedMailbox = environ[OPENED]
    path = "/" + "/".join([opened.segment, *opened.namespace.folder_segments(folder)])
    return (HiddenFolder if folder.hidden else FolderResource)(path, environ, folder)


def item_resource(environ: dict, item: Item):
    """The resource of an item record: a message, or a state blob in a hidden folder."""
    ns = environ[OPENED].namespace
    folder = folder_resource(environ, ns.folders[item.folder_id])
    if folder.folder.hidden:
        return StateBlob(dav_util.join_uri(folder.path, item.subject), environ, item)
    return ItemResource.inside(folder, item)


class MailboxStoreProvider(DAVProvider):
    """Maps the paths WsgiDAV asks about to resources of the request's opened mailbox."""

    def get_resource_inst(self, path: str, environ: dict):
        location = environ[OPENED].locate(segments(path))
        return resource_for(path, environ, location) if location is not None else None


def dav_application() -> WsgiDAVApp:
    """WsgiDAV with the store provider, its lock manager, and none of its own authentication."""
    return WsgiDAVApp({
        "provider_mapping": {"/": MailboxStoreProvider()},
        "middleware_stack": [RequestResolver],
        "http_authenticator": {"accept_basic": False, "accept_digest": False},
        "lock_storage": True,
        "property_manager": None,
        "add_header_MS_Author_Via": True,
        "verbose": 1,
        "logging": {"enable": False},
    })
