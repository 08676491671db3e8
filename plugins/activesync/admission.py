"""Admission of Pings: a burst of them cannot crowd out the host's other requests.

One host process runs its Python code on one core at a time (the GIL), and a
Ping costs a few milliseconds of it to set up (partnership, cached Ping, the
folders, the first look) and again to answer. When a thousand devices Ping
within seconds (after a network outage, or when one delivery wakes them all),
a thousand threads would share that core evenly, and a request arriving
among them (a Sync, an OPTIONS, an OWA page) would wait until nearly all of
them were done: 11-16 s measured with 1,000 Pings in 3.3 s.

So only :data:`SLOTS` Pings work at a time; the others wait their turn in
``Semaphore.acquire`` (asleep, costing nothing), and every other request runs
beside at most that many. A held Ping gives its slot back while it sleeps and
takes one again when woken, before it looks at its folders; one that has to
wait for its device (the same device's Sync still running) waits without
its turn (:meth:`CommandContext.lock_device`). Pings still get all the CPU
nobody else wants, so a burst is worked off as fast as before.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

SLOTS = 2  # Pings working at once; the GIL runs one anyway, the second overlaps one's store I/O


class Admission:
    """A counted turn for Pings; see the module's docstring."""

    def __init__(self, slots: int = SLOTS) -> None:
        self._slots = threading.BoundedSemaphore(slots)

    @contextmanager
    def turn(self) -> Iterator[None]:
        self._slots.acquire()
        try:
            yield
        finally:
            self._slots.release()

    @contextmanager
    def stepped_aside(self) -> Iterator[None]:
        """Give the turn back while waiting (a held Ping asleep), take one again before going on."""
        self._slots.release()
        try:
            yield
        finally:
            self._slots.acquire()
