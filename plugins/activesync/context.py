"""What a command module receives: the request, the persona, the mailbox and the device."""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Iterator

from plugins.activesync.admission import Admission
from plugins.activesync.backend import MailboxAccess, MailboxFull
from plugins.activesync.partnership import Partnership, Partnerships
from plugins.activesync.personas import Persona, ProtocolVersion
from plugins.activesync.policy import DevicePolicy
from plugins.activesync.query import EasQuery
from plugins.activesync.usagelog import UsageLog

_device_locks: dict[tuple[str, str], threading.RLock] = {}
_device_locks_guard = threading.Lock()


def device_lock(mailbox_id: str, device_id: str) -> threading.RLock:
    """One lock per partnership: its state blobs are read, changed and written under it."""
    key = (mailbox_id, device_id.casefold())
    with _device_locks_guard:
        return _device_locks.setdefault(key, threading.RLock())


@dataclass
class CommandContext:
    service: object
    config: object
    persona: Persona
    version: ProtocolVersion
    query: EasQuery
    user: object  # host.directory.User
    backend: MailboxAccess
    partnerships: Partnerships
    partnership: Partnership
    policy: DevicePolicy
    usage: UsageLog
    partnership_dirty: bool = False
    admission: Admission | None = None  # a Ping's turn (plugins.activesync.admission)

    @property
    def lock(self) -> threading.RLock:
        return device_lock(self.backend.mailbox_id, self.query.device_id)

    def lock_device(self, timeout: float) -> bool:
        """Take the device lock, waiting up to ``timeout`` seconds; False if another request kept it.

        A Ping with an admission turn does not wait with it: while the same
        device's Sync holds the lock, the turn goes back, and it is taken
        again before the lock is tried once more (turn first, then lock, as in
        :meth:`unlocked`).
        """
        if self.admission is None:
            return self.lock.acquire(timeout=timeout)
        deadline = time.monotonic() + timeout
        while not self.lock.acquire(blocking=False):  # ends by the deadline
            with self.admission.stepped_aside():
                free = self.lock.acquire(timeout=max(0.0, deadline - time.monotonic()))
                if free:
                    self.lock.release()
            if not free:
                return False
        return True

    @contextmanager
    def unlocked(self) -> Iterator[None]:
        """Let other requests of this device in while this one waits (Ping, Sync Wait).

        A Ping also gives back its admission turn; it takes a turn again before the
        device lock (always in that order, so the two cannot deadlock).
        """
        self.lock.release()
        try:
            with self.admission.stepped_aside() if self.admission is not None else nullcontext():
                yield
        finally:
            self.lock.acquire()

    def service_stopping(self) -> bool:
        """The host is shutting down: held requests answer now."""
        from plugins.activesync.plugin import push_hub

        return push_hub(self.service).stopping

    def save_partnership(self) -> None:
        """Write the partnership if this request changed it (last sync, policy, states).

        A Ping saves it before it is held, so that a held Ping's answer, when one
        delivery wakes a thousand of them, writes nothing.
        """
        if not self.partnership_dirty:
            return
        try:
            self.partnerships.save(self.partnership)
        except MailboxFull:  # the command's own answer says so; the record waits for space
            return
        self.partnership_dirty = False

    # -- this device's state blobs ------------------------------------------

    def get_state(self, name: str) -> bytes | None:
        self.usage.state_reads += 1
        return self.backend.get_state(self.partnership.folder, name)

    def put_state(self, name: str, data: bytes) -> None:
        self.backend.put_state(self.partnership.folder, name, data)
        if name not in self.partnership.states:
            self.partnership.states.append(name)
            self.partnership_dirty = True

    def delete_state(self, name: str) -> None:
        self.backend.delete_state(self.partnership.folder, name)
