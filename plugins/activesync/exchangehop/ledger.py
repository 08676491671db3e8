"""Replication collblobs by mark: how integer marks meet WebDAV replication.

The command layer keeps *marks* (the mailbox's change number) in its sync
state; WebDAV replication knows "what changed since" only through the opaque
collblob of an earlier answer (``<R:repl><R:collblob>``), and only the
replication form reports deletions. Exchange 2003's MASSYNC kept its
collblobs in the sync state in the mailbox; the hop does the same, per
collection and shared by the user's devices: a ledger ``mark -> collblob``
per scope (the hierarchy, or one folder), kept in this process and written
to the mailbox's hidden folder ``Microsoft-Server-ActiveSync/Replication``
so a restarted host still finds it.

A mark is recorded only when it is *exact*: the mailbox change number at
the moment the answer's collblob was made (see ``access._replicate``). Two
blobs recorded for one mark are then equivalent, and the newest
:data:`KEEP` marks per scope are kept.
"""
from __future__ import annotations

import json
import threading
from collections import OrderedDict

KEEP = 32
FOLDER = "Microsoft-Server-ActiveSync/Replication"  # hidden folder of the persisted ledgers
MAX_MAILBOXES = 1024


class Ledger:
    """One scope's marks and collblobs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._blobs: dict[int, str] = {}
        self.loaded = False  # the persisted copy has been merged in

    def lookup(self, mark: int) -> tuple[int, str] | None:
        """(mark, collblob) for ``mark``, else for the newest mark below it; None when there is none."""
        with self._lock:
            if mark in self._blobs:
                return mark, self._blobs[mark]
            older = [m for m in self._blobs if m < mark]
            return (max(older), self._blobs[max(older)]) if older else None

    def record(self, mark: int, collblob: str) -> bool:
        """Remember an exact mark; True when it is new (worth writing to the mailbox)."""
        with self._lock:
            if mark in self._blobs:
                return False
            self._blobs[mark] = collblob
            for old in sorted(self._blobs)[:-KEEP]:
                del self._blobs[old]
            return True

    def merge(self, data: bytes | None) -> None:
        """Fold in the copy read from the mailbox (entries this process lacks)."""
        entries = {}
        if data:
            try:
                entries = {int(k): str(v) for k, v in json.loads(data).items()}
            except (ValueError, TypeError, AttributeError):
                entries = {}  # an unreadable ledger is an empty one: the next answers rebuild it
        with self._lock:
            for mark, blob in entries.items():
                self._blobs.setdefault(mark, blob)
            for old in sorted(self._blobs)[:-KEEP]:
                del self._blobs[old]
            self.loaded = True

    def to_json(self) -> bytes:
        with self._lock:
            return json.dumps({str(k): v for k, v in sorted(self._blobs.items())}, separators=(",", ":")).encode()


class Ledgers:
    """The ledgers of every mailbox this process has synced, by (mailbox URL, scope); bounded."""

    def __init__(self, max_mailboxes: int = MAX_MAILBOXES) -> None:
        self._lock = threading.Lock()
        self._mailboxes: OrderedDict[str, dict[str, Ledger]] = OrderedDict()
        self.max_mailboxes = max_mailboxes

    def get(self, mailbox: str, scope: str) -> Ledger:
        with self._lock:
            scopes = self._mailboxes.setdefault(mailbox, {})
            self._mailboxes.move_to_end(mailbox)
            while len(self._mailboxes) > self.max_mailboxes:
                self._mailboxes.popitem(last=False)
            return scopes.setdefault(scope, Ledger())
