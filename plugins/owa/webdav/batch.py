"""Exchange's batch methods: BPROPFIND, BPROPPATCH, BDELETE, BMOVE and BCOPY.

One request names a folder (its scope) and, in ``<D:target><D:href>``, the
resources to act on; hrefs may be relative to the folder. The answer is a
multistatus with one response per target. BMOVE and BCOPY take the target
folder from the ``Destination`` header; each moved or copied item answers
201 with a ``<D:location>`` naming its new URL (the store gives moved items
new ids, as Exchange gave them new entry ids). BDELETE deletes for good, in
one store transaction for all its items. BPROPFIND answers what PROPFIND
with ``Depth: 0`` would for each target (``<D:prop>``, ``<D:allprop/>`` or
``<D:propname/>``): one request where a client would otherwise send one
PROPFIND per item, which is why MASSYNC used it for a window of items.

Not supported: the ``Brief`` header (every target is always reported),
BCOPY of folders, batch operations on state blobs.
"""
from __future__ import annotations

from urllib.parse import urljoin

from lxml import etree
from wsgidav import util as dav_util
from wsgidav.dav_error import HTTP_FAILED_DEPENDENCY, DAVError

from host.errors import HttpError
from plugins.owa.namespace import Kind, Location, OpenedMailbox
from plugins.owa.webdav.answers import Answer, multistatus_answer, read_body, status_element
from plugins.owa.webdav.provider import folder_resource, item_resource
from plugins.owa.webdav.resource import OPENED, store_errors
from plugins.owa.webdav.schemas import DAV, multistatus, parse_xml, property_updates

ROOT_ELEMENTS = {"BPROPFIND": "propfind", "BPROPPATCH": "propertyupdate", "BDELETE": "delete", "BMOVE": "move", "BCOPY": "copy"}


def handle_batch(environ, opened: OpenedMailbox, scope: Location, method: str) -> Answer:
    if scope.kind not in (Kind.MAILBOX, Kind.FOLDER):
        raise HttpError(400, 0, 0, detail=f"{method} runs on a folder of the mailbox.")
    body = parse_xml(read_body(environ))
    if body.tag != f"{{{DAV}}}{ROOT_ELEMENTS[method]}":
        raise HttpError(400, 0, 0, detail=f"{method} needs a <D:{ROOT_ELEMENTS[method]}> body.")
    hrefs = [h.text.strip() for target in body.iter(f"{{{DAV}}}target")
             for h in target.iter(f"{{{DAV}}}href") if h.text and h.text.strip()]
    if not hrefs:
        raise HttpError(400, 0, 0, detail=f"{method} needs at least one <D:target><D:href>.")
    ns = opened.namespace
    base = ns.folder_href(scope.folder) if scope.folder else ns.href(collection=True)
    allowed = _scope_folders(opened, scope)
    targets = [(href, _target(opened, urljoin(base, href), allowed)) for href in hrefs]
    element = multistatus()
    if method == "BPROPFIND":
        _propfind(environ, body, targets, element)
    elif method == "BPROPPATCH":
        _proppatch(environ, body, targets, element)
    elif method == "BDELETE":
        _delete(opened, targets, element)
    else:
        destination = _destination(environ, opened)
        for href, location in targets:
            _move_or_copy(environ, opened, href, location, destination, element, move=method == "BMOVE")
    return multistatus_answer(element)


def _scope_folders(opened: OpenedMailbox, scope: Location) -> set[int]:
    ns = opened.namespace
    below = {f.id for f in ns.descendants(scope.folder, hidden=False)}
    return below | ({scope.folder.id} if scope.folder else set())


def _target(opened: OpenedMailbox, url: str, allowed: set[int]) -> Location | int:
    """The target's location, or the status to report for it (404 missing, 403 outside the scope)."""
    segments = opened.segments_of(url)
    location = opened.locate(segments) if segments is not None else None
    if location is None:
        return 404
    if location.kind in (Kind.ITEM, Kind.FOLDER) and location.folder.id in allowed:
        return location
    return 403


def _response(element: etree._Element, href: str, status: int, location: str | None = None) -> None:
    response = etree.SubElement(element, f"{{{DAV}}}response")
    etree.SubElement(response, f"{{{DAV}}}href").text = href
    status_element(response, status)
    if location is not None:
        etree.SubElement(etree.SubElement(response, f"{{{DAV}}}location"), f"{{{DAV}}}href").text = location


def _status_of(action) -> int:
    try:
        with store_errors():
            action()
    except DAVError as error:
        return error.value
    return 0


def _delete(opened: OpenedMailbox, targets, element: etree._Element) -> None:
    ns = opened.namespace
    items = [loc.item.id for _, loc in targets if isinstance(loc, Location) and loc.kind is Kind.ITEM]
    failed = _status_of(lambda: ns.store.delete_items(ns.mailbox_id, items, hard=True)) if items else 0
    for href, location in targets:
        if not isinstance(location, Location):
            _response(element, href, location)
        elif location.kind is Kind.ITEM:
            _response(element, href, failed or 200)
        else:
            folder_id = location.folder.id
            _response(element, href,
                      _status_of(lambda: ns.store.delete_folder(ns.mailbox_id, folder_id, hard=True)) or 200)
            ns.forget()


def _destination(environ, opened: OpenedMailbox) -> Location:
    header = environ.get("HTTP_DESTINATION")
    if not header:
        raise HttpError(400, 0, 0, detail="BMOVE and BCOPY need a Destination header naming a folder.")
    segments = opened.segments_of(header)
    location = opened.locate(segments) if segments is not None else None
    if location is None or location.kind not in (Kind.MAILBOX, Kind.FOLDER):
        raise HttpError(409, 0, 0, detail="The Destination is not a folder of this mailbox.")
    return location


def _move_or_copy(environ, opened: OpenedMailbox, href: str, location: Location | int, destination: Location,
                  element: etree._Element, *, move: bool) -> None:
    ns = opened.namespace
    if not isinstance(location, Location):
        _response(element, href, location)
        return
    target_folder = destination.folder.id if destination.folder else None
    results = []
    if location.kind is Kind.ITEM and target_folder is not None:
        store_call = ns.store.move_item if move else ns.store.copy_item
        status = _status_of(lambda: results.append(store_call(ns.mailbox_id, location.item.id, target_folder)))
        new_href = ns.item_href(results[0]) if results else None
    elif location.kind is Kind.FOLDER and move:
        status = _status_of(lambda: ns.store.move_folder(ns.mailbox_id, location.folder.id, target_folder))
        ns.forget()
        new_href = ns.folder_href(ns.folders[location.folder.id]) if not status else None
    else:
        status, new_href = 403, None
    _response(element, href, status or 201, new_href)


def _resource(environ, location: Location):
    return (item_resource(environ, location.item) if location.kind is Kind.ITEM
            else folder_resource(environ, location.folder))


def _propfind(environ, body: etree._Element, targets, element: etree._Element) -> None:
    """Each target as PROPFIND Depth 0 answers it: the asked properties found (200) or not (404)."""
    prop = body.find(f"{{{DAV}}}prop")
    if prop is not None:
        mode, names = "named", [child.tag for child in prop]
    elif body.find(f"{{{DAV}}}propname") is not None:
        mode, names = "name", None
    else:  # <D:allprop/>, or nothing but targets: RFC 4918 9.1 reads an empty propfind as allprop
        mode, names = "allprop", None
    for href, location in targets:
        if not isinstance(location, Location):
            _response(element, href, location)
            continue
        resource = _resource(environ, location)
        with store_errors():
            found = resource.get_properties(mode, name_list=names)
        dav_util.add_property_response(element, resource.get_href(), found)


def _proppatch(environ, body: etree._Element, targets, element: etree._Element) -> None:
    updates = property_updates(body)
    if not updates:
        raise HttpError(400, 0, 0, detail="BPROPPATCH needs <D:set> or <D:remove> properties.")
    ns = environ[OPENED].namespace
    for href, location in targets:
        if not isinstance(location, Location):
            _response(element, href, location)
            continue
        resource = _resource(environ, location)
        dav_util.add_property_response(element, resource.get_href(), _apply(resource, updates))
    ns.forget()


def _apply(resource, updates) -> list[tuple[str, DAVError | None]]:
    """PROPPATCH's rule per target: all properties or none (dry run first)."""
    errors: dict[str, DAVError] = {}
    for name, value in updates:
        try:
            resource.set_property_value(name, value, dry_run=True)
        except DAVError as error:
            errors[name] = error
    if errors:
        return [(name, errors.get(name, DAVError(HTTP_FAILED_DEPENDENCY))) for name, _ in updates]
    results: list[tuple[str, DAVError | None]] = []
    for name, value in updates:
        try:
            resource.set_property_value(name, value)
            results.append((name, None))
        except DAVError as error:
            results.append((name, error))
    return results
