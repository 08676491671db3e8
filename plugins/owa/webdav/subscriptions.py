"""Folder subscriptions, their NOTIFY datagrams, and waiting for their events without polling the store.

Exchange 2003 kept WebDAV subscriptions in the store: SUBSCRIBE registered
one; with a ``Call-Back: httpu://host:port/path`` the store sent a UDP
``NOTIFY`` to that address whenever an event fired (Exchange SDK, "NOTIFY
Method"), and the client acknowledged with POLL, which also says which
subscriptions really have events. Without a Call-Back the client POLLs;
the lab lets such a POLL wait (``X-Lab-Wait``) until a commit touches a
subscribed folder. Every mailbox has its own ``threading.Condition``: the
``mailbox_changed`` hook marks the mailbox's subscriptions of the changed
folders, sends their NOTIFYs and wakes only that mailbox's waiters.
Nothing spins; a waiter sleeps until woken or until its deadline.

The hook only says "this folder changed"; whether that is an event of the
subscription's type (a new member, a delete) is checked against the store's
change list when the waiter wakes (or the POLL after a NOTIFY arrives), by
the ``fired`` callback of :meth:`SubscriptionTable.wait`. So a NOTIFY means
"POLL now", as on Exchange, where the store also coalesced events. That
check also catches commits made by another process (the CLI), whose hooks
run there, at the start of every POLL.

UDP may be lost, so the store repeats a subscription's NOTIFY until a
request names it in its ``Subscription-id`` header (any method, typically
POLL) or it expires (Exchange SDK, "NOTIFY Method"). The SDK does not say
how often; the lab repeats every :data:`NOTIFY_RESEND_S` seconds, from one
thread per web service that sleeps in between.
"""
from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

DEFAULT_LIFETIME = 3600  # seconds, when SUBSCRIBE names none
NOTIFY_RESEND_S = 10.0  # the lab's choice: how long an unacknowledged NOTIFY waits to be repeated
MAX_LIFETIME = 24 * 3600


@dataclass
class Subscription:
    id: int
    mailbox_id: str
    folder_id: int | None  # None: the mailbox root, i.e. its folder hierarchy
    href: str  # the URL subscribed to; POLL and UNSUBSCRIBE must name the same one
    notification_type: str
    lifetime: int
    expires: float
    mark: int  # the mailbox change number up to which events were reported
    pending: bool = False  # a commit touched the folder since the last look
    call_back: CallBack | None = None  # where NOTIFY datagrams go (SUBSCRIBE's Call-Back header)
    notified: bool = False  # a NOTIFY went out and no request has named the subscription since


@dataclass(frozen=True)
class CallBack:
    """A ``Call-Back: httpu://host:port/path`` as the store uses it: an address and the URI to name."""

    address: tuple[str, int]
    uri: str


@dataclass
class _Mailbox:
    condition: threading.Condition = field(default_factory=threading.Condition)
    subscriptions: dict[int, Subscription] = field(default_factory=dict)


class SubscriptionTable:
    """The subscriptions of one web service, per mailbox.

    :param clock: monotonic seconds (a test seam).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._mailboxes: dict[str, _Mailbox] = {}
        self._ids = itertools.count(1)
        self._closed = False
        self._notifiers: dict[int, socket.socket] = {}  # address family -> the UDP socket NOTIFYs leave from
        self._stopped = threading.Event()
        self._resender: threading.Thread | None = None

    def _box(self, mailbox_id: str) -> _Mailbox:
        with self._lock:
            return self._mailboxes.setdefault(mailbox_id, _Mailbox())

    @staticmethod
    def bounded_lifetime(requested: int | None) -> int:
        return DEFAULT_LIFETIME if not requested else max(1, min(requested, MAX_LIFETIME))

    def subscribe(self, mailbox_id: str, folder_id: int | None, href: str, notification_type: str,
                  lifetime: int | None, mark: int, call_back: CallBack | None = None) -> Subscription:
        lifetime = self.bounded_lifetime(lifetime)
        with self._lock:
            subscription_id = next(self._ids)
        subscription = Subscription(subscription_id, mailbox_id, folder_id, href, notification_type,
                                    lifetime, self._clock() + lifetime, mark, call_back=call_back)
        box = self._box(mailbox_id)
        with box.condition:
            box.subscriptions[subscription_id] = subscription
        return subscription

    def find(self, mailbox_id: str, ids: Iterable[int], href: str, *, renew: bool = False,
             lifetime: int | None = None) -> list[Subscription]:
        """The live subscriptions among ``ids`` for ``href``; ``renew`` restarts their lifetime.

        Being named by a request acknowledges their NOTIFYs.
        """
        box = self._box(mailbox_id)
        now = self._clock()
        found = []
        with box.condition:
            for subscription_id in ids:
                subscription = box.subscriptions.get(subscription_id)
                if subscription is None:
                    continue
                if subscription.expires <= now:
                    del box.subscriptions[subscription_id]
                    continue
                if subscription.href.casefold() != href.casefold():
                    continue
                subscription.notified = False
                if renew:
                    if lifetime:
                        subscription.lifetime = self.bounded_lifetime(lifetime)
                    subscription.expires = now + subscription.lifetime
                found.append(subscription)
        return found

    def unsubscribe(self, mailbox_id: str, ids: Iterable[int], href: str) -> list[int]:
        removed = [s.id for s in self.find(mailbox_id, ids, href)]
        box = self._box(mailbox_id)
        with box.condition:
            for subscription_id in removed:
                box.subscriptions.pop(subscription_id, None)
            box.condition.notify_all()
        return removed

    def watches(self, mailbox_id: str) -> bool:
        """Whether the mailbox has subscriptions (else a commit needs no closer look)."""
        with self._lock:
            box = self._mailboxes.get(mailbox_id)
        return box is not None and bool(box.subscriptions)

    def changed(self, mailbox_id: str, folder_ids: Iterable[int], *, visible: Iterable[int]) -> None:
        """Called by the ``mailbox_changed`` hook after a commit; never blocks for long.

        ``visible``: the folders among ``folder_ids`` a user sees. A subscription
        on the mailbox root fires only for those (sync state written into the
        hidden folders is no event of the hierarchy); one on a folder fires
        for its folder, hidden or not.
        """
        with self._lock:
            box = self._mailboxes.get(mailbox_id)
        if box is None:
            return
        folders, shown = set(folder_ids), set(visible)
        notify: dict[CallBack, list[int]] = {}
        with box.condition:
            touched = False
            now = self._clock()
            for subscription in box.subscriptions.values():
                if (shown if subscription.folder_id is None else subscription.folder_id in folders):
                    subscription.pending = touched = True
                    if subscription.call_back is not None and subscription.expires > now:
                        subscription.notified = True
                        notify.setdefault(subscription.call_back, []).append(subscription.id)
            if touched:
                box.condition.notify_all()
        for call_back, ids in notify.items():
            self._send_notify(call_back, ids)
        if notify:
            self._start_resender()

    def _start_resender(self) -> None:
        with self._lock:
            if self._resender is None and not self._closed:
                self._resender = threading.Thread(target=self._resend, name="davex NOTIFY resender", daemon=True)
                self._resender.start()

    def _resend(self) -> None:
        """Repeat the NOTIFYs nobody acknowledged, until the service stops."""
        while not self._stopped.wait(NOTIFY_RESEND_S):
            for call_back, ids in self._unacknowledged().items():
                self._send_notify(call_back, ids)

    def _unacknowledged(self) -> dict[CallBack, list[int]]:
        with self._lock:
            boxes = list(self._mailboxes.values())
        now = self._clock()
        due: dict[CallBack, list[int]] = {}
        for box in boxes:
            with box.condition:
                for subscription in box.subscriptions.values():
                    if subscription.notified and subscription.call_back is not None and subscription.expires > now:
                        due.setdefault(subscription.call_back, []).append(subscription.id)
        return due

    def _send_notify(self, call_back: CallBack, ids: list[int]) -> None:
        """One NOTIFY datagram naming the subscriptions (a list, as POLL's Subscription-id header)."""
        datagram = (f"NOTIFY {call_back.uri} HTTP/1.1\r\nSubscription-id: {','.join(map(str, ids))}\r\n"
                    "Content-Length: 0\r\n\r\n").encode("ascii", "replace")
        family = socket.AF_INET6 if ":" in call_back.address[0] else socket.AF_INET
        with self._lock:
            if self._closed:
                return
            notifier = self._notifiers.get(family)
            if notifier is None:
                notifier = self._notifiers[family] = socket.socket(family, socket.SOCK_DGRAM)
                notifier.setblocking(False)
        try:
            notifier.sendto(datagram, call_back.address)
        except OSError:
            pass  # UDP: a NOTIFY that cannot leave is a lost datagram; the client's next POLL still finds the events

    def wait(self, subscriptions: list[Subscription], timeout: float,
             fired: Callable[[list[Subscription]], list[Subscription]]) -> list[Subscription]:
        """The subscriptions with events, waiting up to ``timeout`` seconds for the first.

        ``fired`` gets the candidates (all of them first, then those a commit
        touched) and returns those that really have events of their type; it
        runs outside the lock, since it reads the store.
        """
        if not subscriptions:
            return []
        box = self._box(subscriptions[0].mailbox_id)
        deadline = self._clock() + max(0.0, timeout)
        candidates = list(subscriptions)
        while True:  # ends by the deadline: each pass either returns or sleeps until woken or due
            hits = fired(candidates) if candidates else []
            if hits:
                return hits
            with box.condition:
                while True:
                    live = [s for s in subscriptions if box.subscriptions.get(s.id) is s]
                    candidates = [s for s in live if s.pending]
                    for subscription in candidates:
                        subscription.pending = False
                    remaining = deadline - self._clock()
                    if candidates or not live or remaining <= 0 or self._closed:
                        break
                    box.condition.wait(remaining)
            if not candidates:
                return []

    def close(self) -> None:
        """Wake every waiter (the service is stopping); later waits return at once, no NOTIFY leaves."""
        self._stopped.set()
        with self._lock:
            self._closed = True
            boxes = list(self._mailboxes.values())
            for notifier in self._notifiers.values():
                notifier.close()
            self._notifiers.clear()
        for box in boxes:
            with box.condition:
                box.condition.notify_all()
