"""What a command module receives: the request, the persona, the mailbox and the device."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from plugins.activesync.backend import MailboxAccess
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

    @property
    def lock(self) -> threading.RLock:
        return device_lock(self.backend.mailbox_id, self.query.device_id)

    @contextmanager
    def unlocked(self) -> Iterator[None]:
        """Let other requests of this device in while this one waits (Ping, Sync Wait)."""
        self.lock.release()
        try:
            yield
        finally:
            self.lock.acquire()

    def service_stopping(self) -> bool:
        """The host is shutting down: held requests answer now."""
        from plugins.activesync.plugin import push_hub

        return push_hub(self.service).stopping

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
