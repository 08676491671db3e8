"""PROPPATCH on a URL where nothing is: Exchange 2003 created the item there.

This is how Outlook Web Access and WebDAV clients made contacts,
appointments and tasks (the Exchange SDK's "PROPPATCH to create an item":
``DAV:contentclass``, ``outlookmessageclass`` and the item's properties on a
new URL in the folder), and how MASSYNC's hop adds what a device created.
WsgiDAV answers 404 for a resource that does not exist, so davex.py sends
such a PROPPATCH here.

The store names its items (the id after the last ``-`` of an item URL is
what resolves), so the name the client chose is not kept: as for PUT, the
answer's ``Location`` header and ``<D:href>`` give the new item's URL, and the
client reads the item there. Otherwise PROPPATCH's rules hold: all
properties or none (a refused one is 403/409 in its propstat, the others 424
Failed Dependency, and no item is made). A parent that does not exist is
409 Conflict, as RFC 4918 has it for PUT and MKCOL (9.7.1, 9.3.1); the
store's quota refusal is 507.
"""
from __future__ import annotations

from wsgidav import util as dav_util
from wsgidav.dav_error import HTTP_FAILED_DEPENDENCY, DAVError

from host.errors import HttpError
from plugins.owa.namespace import Kind, OpenedMailbox
from plugins.owa.webdav.answers import Answer, multistatus_answer, read_body
from plugins.owa.webdav.properties import new_item
from plugins.owa.webdav.provider import folder_resource
from plugins.owa.webdav.resource import store_errors
from plugins.owa.webdav.schemas import DAV, multistatus, parse_xml, property_updates


def handle_create(environ, opened: OpenedMailbox, segments: list[str]) -> Answer:
    """PROPPATCH of ``segments`` (vdir-relative, mailbox first), which name nothing yet."""
    parent = opened.locate(segments[:-1])
    if parent is None or parent.kind in (Kind.ITEM, Kind.STATE):
        raise HttpError(409, 0, 0, detail="The URL's parent is not a folder of this mailbox: create the folder "
                                          "first (MKCOL).")
    if parent.kind is not Kind.FOLDER:
        raise HttpError(403, 0, 0, detail="Items are created in folders: not at the top of the information "
                                          "store, not at the submission URI, and state blobs in hidden "
                                          "folders are written with PUT.")
    body = parse_xml(read_body(environ))
    updates = property_updates(body) if body.tag == f"{{{DAV}}}propertyupdate" else []
    if not updates:
        raise HttpError(400, 0, 0, detail="PROPPATCH needs a <D:propertyupdate> that sets properties.")
    folder_resource(environ, parent.folder).check_unlocked()
    item, refused = new_item(updates)
    element = multistatus()
    if refused:
        results = [(name, DAVError(refused[name].status, str(refused[name])) if name in refused
                    else DAVError(HTTP_FAILED_DEPENDENCY)) for name, _ in updates]
        dav_util.add_property_response(element, opened.namespace.href(*segments[1:]), results)
        return multistatus_answer(element)
    ns = opened.namespace
    with store_errors():
        created = ns.store.add_item(ns.mailbox_id, parent.folder.id, item)
    href = ns.item_href(created)
    dav_util.add_property_response(element, href, [(name, None) for name, _ in updates])
    return multistatus_answer(element, [("Location", href)])
