"""Reload on change: the running host applies an edited registry.ini without a restart.

watchfiles (inotify on Linux) reports changes to the folder holding the file,
so an editor that replaces the file instead of writing it in place is seen
too. The service validates the new file and keeps the last good
configuration when it is invalid (a warning event says why).
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable

import watchfiles


class ConfigWatcher:
    """Calls ``on_change`` after ``path`` changed; ``stop()`` ends the thread promptly."""

    def __init__(self, path: Path, on_change: Callable[[], object], *, debounce_ms: int = 100) -> None:
        self.path = Path(path).resolve()
        self._on_change = on_change
        self._debounce_ms = debounce_ms
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="registry.ini watcher", daemon=True)
        self._ready = threading.Event()

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(5)

    def _is_ours(self, change: watchfiles.Change, changed: str) -> bool:
        return Path(changed).resolve() == self.path

    def _run(self) -> None:
        # With yield_on_timeout the first (empty) batch arrives once inotify is
        # watching, which is the moment start() may return.
        for changes in watchfiles.watch(self.path.parent, watch_filter=self._is_ours, stop_event=self._stop,
                                        debounce=self._debounce_ms, step=50, rust_timeout=200,
                                        yield_on_timeout=True, raise_interrupt=False, recursive=False):
            self._ready.set()
            if changes:
                self._on_change()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
