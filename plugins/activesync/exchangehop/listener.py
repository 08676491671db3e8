"""Waiting for changes over the hop: WebDAV SUBSCRIBE with a UDP Call-Back, NOTIFY, then POLL.

Exchange 2003 SP2 subscribed to the folders a device pinged (``SUBSCRIBE``,
``Notification-type: update``, ``Call-Back: httpu://...``) and was told of
changes by the store's UDP ``NOTIFY`` (:mod:`.notify`); a ``POLL`` then
acknowledged the events and said which subscriptions really had them. So a
held Ping costs the mailbox server nothing but its subscriptions: no
request is held there, no worker thread, no connection.

* Created by ``listen()``: SUBSCRIBE to the mailbox root and to the folders
  the request has looked at so far (Ping and Sync look up their folders
  before they listen), at most :data:`MAX_WATCHED`. A subscription reports
  everything after its creation, and the receiver keeps a NOTIFY that
  overtook its SUBSCRIBE answer, so nothing between ``listen()`` and
  ``wait()`` is missed.
* ``wait(timeout)``: sleep on the :class:`~.notify.Waiter` until a NOTIFY
  names one of this listener's subscriptions, then POLL those (no waiting
  there). A POLL with an event (``200`` inside the 207) wakes the caller;
  one without (the folder changed in a way the subscription's type does not
  report) goes back to sleep. A subscription the server no longer knows
  (``412``, e.g. the mailbox server restarted) is made again and counts as
  a wake-up, since something may have been missed. A subscription lost
  silently (a restarted server sends no NOTIFY for it) costs at most one
  heartbeat: the Ping answers "no changes" and the device pings again.
* ``close()``: UNSUBSCRIBE.
* The host stopping (``host_stopping``) wakes every listener; the wait then
  reports no change, so the held command answers at once instead of asking
  a closing server again.
"""
from __future__ import annotations

import threading
import time
import weakref

from plugins.activesync.backend import ChangeListener
from plugins.activesync.exchangehop import davxml
from plugins.activesync.exchangehop.client import HopError, HopResponse
from plugins.activesync.exchangehop.notify import Waiter, close_receivers, receiver_for

MAX_WATCHED = 16  # folders watched besides the hierarchy (Ping may name up to 300)
LIFETIME = 3600  # Subscription-lifetime, seconds

_listeners: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # service -> WeakSet of listeners
_guard = threading.Lock()


def stop_all(service) -> None:
    """Wake every listener of ``service`` and close its NOTIFY port: the host is stopping."""
    with _guard:
        listeners = list(_listeners.get(service, ()))
    for listener in listeners:
        listener.stop()
    close_receivers(service)


class HopChangeListener(ChangeListener):
    """Subscriptions with a UDP Call-Back on the watched folders of one mailbox.

    :param access: the request's :class:`~plugins.activesync.exchangehop.access.ExchangeHopAccess`.
    :param urls: the mailbox root's URL and the watched folders' URLs.
    """

    def __init__(self, access, urls: list[str]) -> None:
        self.access = access
        target = access.session.target
        self._server_ip = target.ip
        self._receiver = receiver_for(access.service, target.ip, target.port)
        self._waiter = Waiter()
        self._subscriptions: dict[str, str] = {}  # url -> subscription id
        self._stopped = False
        self._closed = False
        with _guard:
            _listeners.setdefault(access.service, weakref.WeakSet()).add(self)
        try:
            for url in urls:
                self._subscribe(url)
        except BaseException:
            self.close()
            raise

    # -- the WebDAV side -------------------------------------------------------------

    def _subscribe(self, url: str) -> None:
        answer = self.access.request("SUBSCRIBE", url, headers={
            "Notification-type": "update", "Subscription-lifetime": str(LIFETIME),
            "Call-Back": self._receiver.call_back})
        subscription = (answer.header("Subscription-id") or "").strip()
        if answer.status != 200 or not subscription:
            raise self.access.session.failure(answer.status, "SUBSCRIBE", url, f"answered {answer.status_line}")
        self._subscriptions[url] = subscription
        self._receiver.register(self._server_ip, subscription, self._waiter)

    def _fired(self, url: str) -> bool:
        """POLL one subscription: True when it has events (or was lost and made again)."""
        answer = self.access.request("POLL", url, headers={"Subscription-id": self._subscriptions[url]})
        if answer.status == 412:
            self._receiver.unregister(self._server_ip, self._subscriptions.pop(url))
            self._subscribe(url)
            return True
        if answer.status != 207:
            raise self.access.session.failure(answer.status, "POLL", url, f"answered {answer.status_line}")
        return 200 in (r.status for r in self._parse(answer, url).resources)

    def _parse(self, answer: HopResponse, url: str) -> davxml.Multistatus:
        try:
            return davxml.parse_multistatus(answer.body)
        except davxml.AnswerError as exc:
            raise self.access.session.failure(answer.status, "POLL", url, str(exc)) from None

    # -- ChangeListener ----------------------------------------------------------------

    def wait(self, timeout: float) -> bool:
        """True on events; False when ``timeout`` ran out, and also when the host stops.

        Stopping answers "nothing changed" rather than "look again": looking
        again would mean more requests to a mailbox server whose listeners
        are closing, and the held command should answer (Ping status 1) now.
        """
        deadline = time.monotonic() + max(0.0, timeout)
        by_id = {subscription: url for url, subscription in self._subscriptions.items()}
        for _ in range(10_000):  # each pass sleeps until a NOTIFY or the deadline
            if self._stopped or self._stopping():
                return False
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._waiter.event.wait(remaining):
                return False
            if self._stopped:
                return False
            notified = [by_id[s] for s in self._waiter.take() if s in by_id]
            if any([self._fired(url) for url in notified]):  # every notified one POLLed: acknowledged
                return True
        return False

    def stop(self) -> None:
        self._stopped = True
        self._waiter.event.set()

    def _stopping(self) -> bool:
        from plugins.activesync.plugin import push_hub

        return push_hub(self.access.service).stopping

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for url, subscription in list(self._subscriptions.items()):
            self._receiver.unregister(self._server_ip, subscription)
            if not self._stopped:  # a stopping host takes its subscriptions with it
                try:
                    self.access.request("UNSUBSCRIBE", url, headers={"Subscription-id": subscription})
                except HopError:
                    pass
        self._subscriptions.clear()
        with _guard:
            group = _listeners.get(self.access.service)
            if group is not None:
                group.discard(self)
