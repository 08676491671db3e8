"""Waiting for changes over the hop: WebDAV SUBSCRIBE and held POLLs.

Exchange 2003 subscribed to the folders a device pinged (``SUBSCRIBE``,
``Notification-type: update``) and was told of changes by the store's UDP
``NOTIFY``. The lab's mailbox server sends no UDP; a POLL may instead be
held until an event (the lab's ``X-Lab-Wait`` header). A POLL names the
subscriptions of one URL only, so the listener keeps one held POLL per
watched folder (and one on the mailbox root for the hierarchy), each on its
own keep-alive connection, and sleeps in ``selectors`` on all their sockets
in the request's own thread: no polling, no extra threads.

* Created by ``listen()``: SUBSCRIBE to the mailbox root and to the folders
  the request has looked at so far (Ping and Sync look up their folders
  before they listen), at most :data:`MAX_WATCHED`. A subscription reports
  everything after its creation, so nothing between ``listen()`` and
  ``wait()`` is missed.
* ``wait(timeout)``: POLL every subscription that has no POLL in flight,
  with ``X-Lab-Wait`` up to the deadline, and sleep until one answers. An
  answer with events (``200`` inside the 207) wakes the caller; the other
  POLLs stay held for the next ``wait()``, so no change falls between two
  waits. A POLL that ran out (``204``) is sent again. A subscription the
  server no longer knows (``412``, e.g. the mailbox server restarted) is
  made again and counts as a wake-up, since something may have been missed.
* ``close()``: UNSUBSCRIBE, which also ends the POLLs still held.
* The host stopping (``host_stopping``) wakes every listener through a
  socketpair in the same selector; the wait then reports no change, so the
  held command answers at once instead of asking a closing server again.

Each held POLL occupies a worker thread and a connection on the mailbox
server, as each subscription cost Exchange a little; see the README.
"""
from __future__ import annotations

import selectors
import socket
import threading
import time
import weakref

from plugins.activesync.backend import ChangeListener
from plugins.activesync.exchangehop import davxml
from plugins.activesync.exchangehop.client import HopError, HopResponse, Pending

MAX_WATCHED = 16  # folders watched besides the hierarchy (Ping may name up to 300)
LIFETIME = 3600  # Subscription-lifetime, seconds; every POLL renews it
SLACK = 30.0  # socket timeout beyond X-Lab-Wait
CLOSE_TIMEOUT = 5.0  # how long close() waits for a POLL that UNSUBSCRIBE ended

_listeners: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # service -> WeakSet of listeners
_guard = threading.Lock()


def stop_all(service) -> None:
    """Wake every listener of ``service``: the host is stopping (called from ``host_stopping``)."""
    with _guard:
        listeners = list(_listeners.get(service, ()))
    for listener in listeners:
        listener.stop()


class HopChangeListener(ChangeListener):
    """Held POLLs on the watched folders of one mailbox.

    :param access: the request's :class:`~plugins.activesync.exchangehop.access.ExchangeHopAccess`.
    :param urls: the mailbox root's URL and the watched folders' URLs.
    """

    def __init__(self, access, urls: list[str]) -> None:
        self.access = access
        self._subscriptions: dict[str, str] = {}
        self._held: dict[str, Pending] = {}
        self._waker, self._wake_signal = socket.socketpair()
        self._waker.setblocking(False)
        self._stopped = False
        self._closed = False
        with _guard:
            _listeners.setdefault(access.service, weakref.WeakSet()).add(self)
        try:
            for url in urls:
                self._subscriptions[url] = self._subscribe(url)
        except BaseException:
            self.close()
            raise

    # -- the WebDAV side -------------------------------------------------------------

    def _subscribe(self, url: str) -> str:
        answer = self.access.request("SUBSCRIBE", url, headers={
            "Notification-type": "update", "Subscription-lifetime": str(LIFETIME)})
        subscription = answer.header("Subscription-id")
        if answer.status != 200 or not subscription:
            raise self.access.session.failure(answer.status, "SUBSCRIBE", url, f"answered {answer.status_line}")
        return subscription.strip()

    def _poll(self, url: str, wait: float) -> Pending | HopResponse:
        return self.access.session.start("POLL", url, headers={
            "Subscription-id": self._subscriptions[url], "X-Lab-Wait": f"{max(0.0, wait):.3f}"},
            timeout=wait + SLACK)

    def _fired(self, url: str, answer: HopResponse) -> bool | None:
        """True: events; False: none (the wait ran out); None: the subscription is gone (made again)."""
        if answer.status == 412:
            self._subscriptions[url] = self._subscribe(url)
            return None
        if answer.status != 207:
            raise self.access.session.failure(answer.status, "POLL", url, f"answered {answer.status_line}")
        statuses = [r.status for r in davxml.parse_multistatus(answer.body).resources]
        return 200 in statuses

    # -- ChangeListener ----------------------------------------------------------------

    def wait(self, timeout: float) -> bool:
        """True on events; False when ``timeout`` ran out, and also when the host stops.

        Stopping answers "nothing changed" rather than "look again": looking
        again would mean more requests to a mailbox server whose listeners
        are closing, and the held command should answer (Ping status 1) now.
        """
        deadline = time.monotonic() + max(0.0, timeout)
        if self._stopped or self._stopping():
            return False
        with selectors.DefaultSelector() as selector:
            selector.register(self._wake_signal, selectors.EVENT_READ, None)
            for _ in range(1000):  # each pass answers at least one POLL or ends the wait
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                for url in self._subscriptions:
                    if url not in self._held:
                        started = self._poll(url, remaining)
                        if isinstance(started, HopResponse):
                            if self._fired(url, started) is not False:
                                return True
                            continue
                        self._held[url] = started
                registered = {}
                for url, pending in self._held.items():
                    registered[pending.fileno()] = url
                    selector.register(pending.fileno(), selectors.EVENT_READ, url)
                try:
                    ready = selector.select(remaining)
                finally:
                    for fd in registered:
                        selector.unregister(fd)
                if self._stopped:
                    return False
                woken = False
                for key, _ in ready:
                    if key.data is None:
                        continue
                    answer = self._held.pop(key.data).finish()
                    if self._fired(key.data, answer) is not False:
                        woken = True
                if woken:
                    return True
            return False

    def stop(self) -> None:
        self._stopped = True
        try:
            self._waker.send(b"x")
        except OSError:
            pass

    def _stopping(self) -> bool:
        from plugins.activesync.plugin import push_hub

        return push_hub(self.access.service).stopping

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._stopped:  # the host is going away: its subscriptions and connections with it
            for pending in self._held.values():
                pending.abandon()
            self._held.clear()
        for url, subscription in list(self._subscriptions.items()) if not self._stopped else ():
            try:  # UNSUBSCRIBE also ends a POLL still held on it
                self.access.request("UNSUBSCRIBE", url, headers={"Subscription-id": subscription})
            except HopError:
                pass
        for pending in self._held.values():
            try:
                if pending.conn.http.sock is not None:
                    pending.conn.http.sock.settimeout(CLOSE_TIMEOUT)
                pending.finish()
            except HopError:
                pending.abandon()
        self._held.clear()
        self._subscriptions.clear()
        with _guard:
            group = _listeners.get(self.access.service)
            if group is not None:
                group.discard(self)
        self._waker.close()
        self._wake_signal.close()
