"""Direct push plumbing: the store's change notification wakes held requests.

The store calls ``mailbox_changed`` after every commit (in the committing
thread); unless the commit touched only hidden folders (sync state),
:meth:`PushHub.notify` sets the event of every listener on that mailbox. A held Ping or Sync (Wait) sleeps in ``Event.wait`` on its own
worker thread: no polling, and nothing is missed between registering and
waiting because the event stays set. ``shutdown`` wakes everyone so the
listeners' threads can be joined when the host stops.
"""
from __future__ import annotations

import threading

from plugins.activesync.admission import Admission
from plugins.activesync.backend import ChangeListener


class PushHub:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: dict[str, set[_Listener]] = {}
        self._stopping = False
        self.admission = Admission()  # Pings take turns to work (plugins.activesync.admission)

    def listen(self, mailbox_id: str) -> ChangeListener:
        listener = _Listener(self, mailbox_id)
        with self._lock:
            if self._stopping:
                listener.event.set()
            self._listeners.setdefault(mailbox_id, set()).add(listener)
        return listener

    def listens_to(self, mailbox_id: str) -> bool:
        """Whether a held request waits on this mailbox (else a commit needs no closer look)."""
        with self._lock:
            return mailbox_id in self._listeners

    def notify(self, mailbox_id: str) -> None:
        with self._lock:
            listeners = list(self._listeners.get(mailbox_id, ()))
        for listener in listeners:
            listener.event.set()

    def shutdown(self) -> None:
        with self._lock:
            self._stopping = True
            listeners = [l for group in self._listeners.values() for l in group]
        for listener in listeners:
            listener.event.set()

    @property
    def stopping(self) -> bool:
        return self._stopping

    @property
    def held(self) -> int:
        """Listeners currently registered (held Pings and waiting Syncs)."""
        with self._lock:
            return sum(len(group) for group in self._listeners.values())

    def _remove(self, listener: _Listener) -> None:
        with self._lock:
            group = self._listeners.get(listener.mailbox_id)
            if group is not None:
                group.discard(listener)
                if not group:
                    del self._listeners[listener.mailbox_id]


class _Listener(ChangeListener):
    def __init__(self, hub: PushHub, mailbox_id: str) -> None:
        self.hub = hub
        self.mailbox_id = mailbox_id
        self.event = threading.Event()

    def wait(self, timeout: float) -> bool:
        fired = self.event.wait(max(0.0, timeout))
        if fired and not self.hub.stopping:
            self.event.clear()
        return fired

    def close(self) -> None:
        self.hub._remove(self)
