"""SUBSCRIBE, POLL and UNSUBSCRIBE as Exchange 2000 SP2/2003 answered them, plus a lab long-poll.

* ``SUBSCRIBE <folder>`` with ``Notification-type: update | update/newmember
  | delete | move`` and an optional ``Subscription-lifetime`` (seconds,
  default 3600, at most 86400) answers 200 with ``Subscription-id``,
  ``Subscription-lifetime`` and ``Content-Location``. With a
  ``Subscription-id`` header instead it renews those subscriptions.
  ``Call-Back: httpu://host:port/path`` asks for UDP ``NOTIFY`` datagrams
  (``NOTIFY <call-back> HTTP/1.1`` with ``Subscription-id``) whenever a
  commit touches the folder; the client then POLLs. The lab sends them only
  back to the address the SUBSCRIBE came from (the host must be that IP
  address), so a subscription cannot aim the store's datagrams at a third
  machine.
* ``POLL <folder>`` with ``Subscription-id: 1, 2`` answers 207: a response
  with status 200 listing the subscriptions that have events since the last
  POLL, or one with status 204 when none has. Lab extension: ``X-Lab-Wait:
  N`` (seconds, at most 3600) holds the POLL until an event arrives or N
  seconds pass, so a direct-push engine needs no busy polling.
* ``UNSUBSCRIBE <folder>`` with ``Subscription-id`` answers 200.

Unknown or expired ids (or ids of another URL) are ``412 Precondition Failed``.
The lab cannot tell a move out of a folder from a delete (the store leaves a
tombstone either way): ``delete`` and ``move`` both fire on either.
"""
from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from lxml import etree

from host.errors import HttpError
from plugins.owa.namespace import Kind, Location, OpenedMailbox
from plugins.owa.webdav.answers import Answer, multistatus_answer, status_element
from plugins.owa.webdav.schemas import DAV, NOTIFICATIONS, multistatus
from plugins.owa.webdav.subscriptions import CallBack, Subscription, SubscriptionTable

NOTIFICATION_TYPES = ("update", "update/newmember", "delete", "move")
MAX_WAIT = 3600.0


def _ids(environ) -> list[int]:
    header = environ.get("HTTP_SUBSCRIPTION_ID", "")
    try:
        return [int(part) for part in header.split(",") if part.strip()]
    except ValueError:
        raise HttpError(400, 0, 0, detail=f"Subscription-id must list numbers, not {header!r}.") from None


def _number(environ, header: str, limit: float) -> float | None:
    text = environ.get("HTTP_" + header.upper().replace("-", "_"), "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise HttpError(400, 0, 0, detail=f"{header} must be a number of seconds, not {text!r}.") from None
    if value < 0:
        raise HttpError(400, 0, 0, detail=f"{header} cannot be negative.")
    return min(value, limit)


def _href(opened: OpenedMailbox, target: Location) -> str:
    ns = opened.namespace
    return ns.folder_href(target.folder) if target.folder else ns.href(collection=True)


def _call_back(environ) -> CallBack | None:
    """SUBSCRIBE's ``Call-Back`` (Exchange SDK: ``httpu://machine:port/path``, the port required)."""
    text = environ.get("HTTP_CALL_BACK", "").strip()
    if not text:
        return None
    parts = urlsplit(text)
    try:
        port = parts.port
        host = ipaddress.ip_address(parts.hostname or "")
    except ValueError:
        port, host = None, None
    if parts.scheme.casefold() != "httpu" or port is None or host is None:
        raise HttpError(400, 0, 0, detail=f"Call-Back must be httpu://<IP address>:<port>/<path>, not {text!r}.")
    if str(host) != environ.get("REMOTE_ADDR"):
        raise HttpError(400, 0, 0, detail="Call-Back must name the subscribing client's own address "
                                          f"({environ.get('REMOTE_ADDR')}): the lab sends NOTIFY nowhere else.")
    return CallBack((str(host), port), text)


def _subscribed_target(target: Location) -> None:
    if target.kind not in (Kind.MAILBOX, Kind.FOLDER, Kind.HIDDEN_FOLDER):
        raise HttpError(400, 0, 0, detail="The lab takes subscriptions on folders and the mailbox root.")


def _headers(subscriptions: list[Subscription], href: str) -> list[tuple[str, str]]:
    return [("Subscription-id", ",".join(str(s.id) for s in subscriptions)),
            ("Subscription-lifetime", str(subscriptions[0].lifetime)),
            ("Content-Location", href)]


def handle_subscribe(environ, opened: OpenedMailbox, target: Location, table: SubscriptionTable) -> Answer:
    _subscribed_target(target)
    href = _href(opened, target)
    ns = opened.namespace
    lifetime = _number(environ, "Subscription-lifetime", 10**9)
    ids = _ids(environ)
    if ids:
        renewed = table.find(ns.mailbox_id, ids, href, renew=True, lifetime=int(lifetime or 0))
        if not renewed:
            raise HttpError(412, 0, 0, detail="None of these subscriptions exists for this URL.")
        return Answer(200, _headers(renewed, href))
    notification_type = environ.get("HTTP_NOTIFICATION_TYPE", "").strip().casefold()
    if notification_type not in NOTIFICATION_TYPES:
        raise HttpError(400, 0, 0, detail=f"Notification-type must be one of {', '.join(NOTIFICATION_TYPES)}.")
    call_back = _call_back(environ)
    mark = ns.store.get_mailbox(ns.mailbox_id).change_number
    subscription = table.subscribe(ns.mailbox_id, target.folder.id if target.folder else None, href,
                                   notification_type, int(lifetime or 0), mark, call_back)
    return Answer(200, [*_headers([subscription], href), ("Notification-type", notification_type)])


def handle_poll(environ, opened: OpenedMailbox, target: Location, table: SubscriptionTable) -> Answer:
    _subscribed_target(target)
    href = _href(opened, target)
    ids = _ids(environ)
    if not ids:
        raise HttpError(400, 0, 0, detail="POLL needs a Subscription-id header.")
    ns = opened.namespace
    subscriptions = table.find(ns.mailbox_id, ids, href, renew=True)
    if not subscriptions:
        raise HttpError(412, 0, 0, detail="None of these subscriptions exists for this URL.")
    wait = _number(environ, "X-Lab-Wait", MAX_WAIT) or 0.0
    hits = table.wait(subscriptions, wait, lambda candidates: [s for s in candidates if _has_events(ns, s)])
    element = multistatus()
    response = etree.SubElement(element, f"{{{DAV}}}response")
    etree.SubElement(response, f"{{{DAV}}}href").text = href
    status_element(response, 200 if hits else 204)
    listed = etree.SubElement(response, f"{{{NOTIFICATIONS}}}subscriptionID")
    for subscription in hits or subscriptions:
        etree.SubElement(listed, f"{{{NOTIFICATIONS}}}li").text = str(subscription.id)
    return multistatus_answer(element, [("Subscription-id", ",".join(str(s.id) for s in hits or subscriptions))])


def handle_unsubscribe(environ, opened: OpenedMailbox, target: Location, table: SubscriptionTable) -> Answer:
    _subscribed_target(target)
    removed = table.unsubscribe(opened.namespace.mailbox_id, _ids(environ), _href(opened, target))
    if not removed:
        raise HttpError(412, 0, 0, detail="None of these subscriptions exists for this URL.")
    return Answer(200, [("Subscription-id", ",".join(map(str, removed)))])


def _has_events(ns, subscription: Subscription) -> bool:
    """Whether the store changed in a way this subscription's type reports; moves its mark on."""
    store, mailbox_id = ns.store, ns.mailbox_id
    if subscription.folder_id is None:
        hierarchy = store.hierarchy_changes_since(mailbox_id, subscription.mark)
        events = hierarchy.added + hierarchy.changed + hierarchy.deleted
        subscription.mark = hierarchy.change_number
        return bool(events)
    changes = store.changes_since(mailbox_id, subscription.folder_id, subscription.mark)
    kind = subscription.notification_type
    if kind == "update/newmember":
        events = changes.added
    elif kind in ("delete", "move"):
        events = changes.deleted
    else:
        folder = store.get_folder(mailbox_id, subscription.folder_id)
        events = changes.added + changes.changed + changes.deleted
        events += (folder.id,) if folder.change_number > subscription.mark else ()
    subscription.mark = changes.change_number
    return bool(events)
