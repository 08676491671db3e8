"""The lab's Windows-style event log: what Event Viewer shows on the real server.

Handlers write events with the source, ID and level Exchange and IIS use
(Server ActiveSync 3005, MSExchangeOMA 1805, W3SVC...), so a trainee looks for
them where they would look on Windows. Events live in SQLite in WAL mode: the
host process writes while a CLI process reads, neither blocks the other, and
the oldest events go once the cap is reached, like Windows' "overwrite events
as needed".
"""
from __future__ import annotations

import enum
import socket
import sqlite3
import sys
import threading
import traceback
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

APPLICATION = "Application"
SYSTEM = "System"


class Level(enum.Enum):
    """The event types of Windows Server 2003's Event Viewer.

    ``Level("warning")`` and ``Level("SUCCESS_AUDIT")`` work too, so the CLI
    and plugins can pass plain text.
    """

    ERROR = "Error"
    WARNING = "Warning"
    INFORMATION = "Information"
    SUCCESS_AUDIT = "Success Audit"
    FAILURE_AUDIT = "Failure Audit"

    @classmethod
    def _missing_(cls, value: object) -> Level | None:
        if isinstance(value, str):
            wanted = value.strip().replace("_", " ").casefold()
            for member in cls:
                if wanted in (member.value.casefold(), member.name.replace("_", " ").casefold()):
                    return member
        return None


@dataclass(frozen=True)
class Event:
    """One stored event; ``record_id`` 0 means it could not be stored."""

    record_id: int
    time: datetime  # UTC
    log: str
    source: str
    event_id: int
    level: Level
    category: str
    user: str
    computer: str
    text: str


_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    record_id INTEGER PRIMARY KEY AUTOINCREMENT,
    time_us INTEGER NOT NULL,
    log TEXT NOT NULL,
    source TEXT NOT NULL,
    event_id INTEGER NOT NULL,
    level TEXT NOT NULL,
    category TEXT NOT NULL,
    user TEXT NOT NULL,
    computer TEXT NOT NULL,
    text TEXT NOT NULL
)
"""
_COLUMNS = "record_id, time_us, log, source, event_id, level, category, user, computer, text"


def _default_computer_name() -> str:
    """This machine's name the way Windows shows it: NetBIOS style, upper case, at most 15 characters."""
    return socket.gethostname().split(".")[0].upper()[:15]


def _to_us(moment: datetime) -> int:
    """Microseconds since the epoch; a naive datetime is taken to be UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    delta = moment - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def _from_us(micros: int) -> datetime:
    seconds, rest = divmod(micros, 1_000_000)
    return datetime.fromtimestamp(seconds, timezone.utc).replace(microsecond=rest)


def _row_to_event(row: tuple) -> Event:
    record_id, time_us, log, source, event_id, level, category, user, computer, text = row
    return Event(record_id, _from_us(time_us), log, source, event_id, Level(level), category, user, computer, text)


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class EventLog:
    """The event log database ``eventlog.db``, shared by the host and the CLI.

    One connection per object, guarded by a lock, serves all request threads.
    A write waits up to the busy timeout for a lock held elsewhere; if it
    still cannot store the event it says so once on stderr and returns the
    event with ``record_id`` 0, because an event log must never fail the
    request it reports on.
    """

    def __init__(
        self,
        path: Path,
        *,
        max_events: int = 20000,
        sinks: Callable[[Event], None] | None = None,
        computer_name: str | None = None,
        _busy_timeout: float = 5.0,
    ) -> None:
        if max_events < 1:
            raise ValueError(f"max_events must be at least 1, not {max_events}")
        self._path = Path(path)
        self._max_events = max_events
        self._sinks = sinks
        self._computer = computer_name or _default_computer_name()
        self._lock = threading.Lock()
        self._failing = False
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(
            self._path, timeout=_busy_timeout, isolation_level=None, check_same_thread=False
        )
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute(_SCHEMA)

    def write(
        self,
        source: str,
        event_id: int,
        level: Level | str,
        text: str,
        *,
        category: str = "None",
        log: str = APPLICATION,
        user: str = "N/A",
    ) -> Event:
        """Store an event, drop the oldest beyond the cap, then pass the stored event to the sinks."""
        level = Level(level)
        now = datetime.now(timezone.utc)
        values = (_to_us(now), log, source, event_id, level.value, category, user, self._computer, text)
        with self._lock:
            record_id = self._insert(values)
        event = Event(record_id, now, log, source, event_id, level, category, user, self._computer, text)
        if record_id and self._sinks is not None:
            try:
                self._sinks(event)
            except Exception:  # a broken sink must not break the request being reported
                print(f"eventlog: a sink failed on event {source} {event_id}:", file=sys.stderr)
                traceback.print_exc(file=sys.stderr)
        return event

    def query(
        self,
        *,
        source: str | None = None,
        level: Level | str | None = None,
        event_id: int | None = None,
        since: datetime | None = None,
        text: str | None = None,
        log: str | None = None,
        limit: int = 50,
    ) -> list[Event]:
        """Events matching every given filter, newest first.

        ``source`` and ``log`` compare case-insensitively as on Windows;
        ``text`` is a case-insensitive substring; ``since`` is inclusive (naive
        means UTC); a negative ``limit`` means no limit.
        """
        where: list[str] = []
        params: list[object] = []
        if source is not None:
            where.append("source = ? COLLATE NOCASE")
            params.append(source)
        if level is not None:
            where.append("level = ?")
            params.append(Level(level).value)
        if event_id is not None:
            where.append("event_id = ?")
            params.append(event_id)
        if since is not None:
            where.append("time_us >= ?")
            params.append(_to_us(since))
        if text is not None:
            where.append("text LIKE ? ESCAPE '\\'")
            params.append(_like_pattern(text))
        if log is not None:
            where.append("log = ? COLLATE NOCASE")
            params.append(log)
        sql = f"SELECT {_COLUMNS} FROM events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY record_id DESC LIMIT ?"
        params.append(limit)
        with self._lock:
            rows = self._conn.execute(sql, params).fetchall()
        return [_row_to_event(row) for row in rows]

    def clear(self, *, log: str | None = None) -> int:
        """Delete all events (or one log's, as Event Viewer's "Clear all events"); returns how many."""
        with self._lock:
            if log is None:
                cursor = self._conn.execute("DELETE FROM events")
            else:
                cursor = self._conn.execute("DELETE FROM events WHERE log = ? COLLATE NOCASE", (log,))
            return cursor.rowcount

    def close(self) -> None:
        """Close the connection; later writes report the failure once and store nothing."""
        with self._lock:
            self._conn.close()

    def _insert(self, values: tuple) -> int:
        """Insert and trim in one transaction; 0 when the database cannot be written."""
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                cursor = self._conn.execute(
                    "INSERT INTO events (time_us, log, source, event_id, level, category, user, computer, text)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    values,
                )
                record_id = int(cursor.lastrowid or 0)
                # Record IDs are consecutive (AUTOINCREMENT, never reused), so
                # the newest max_events are exactly those above this bound.
                self._conn.execute("DELETE FROM events WHERE record_id <= ?", (record_id - self._max_events,))
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            if not self._failing:
                print(f"eventlog: cannot store events in {self._path}: {exc}; the host keeps serving",
                      file=sys.stderr)
                self._failing = True
            return 0
        self._failing = False
        return record_id


def format_event(event: Event) -> str:
    """The event as Windows Server 2003's Event Properties dialog copies it, local date and time."""
    local = event.time.astimezone()
    hour = local.hour % 12 or 12
    meridiem = "AM" if local.hour < 12 else "PM"
    return (
        f"Event Type:\t{event.level.value}\n"
        f"Event Source:\t{event.source}\n"
        f"Event Category:\t{event.category}\n"
        f"Event ID:\t{event.event_id}\n"
        f"Date:\t\t{local.month}/{local.day}/{local.year}\n"
        f"Time:\t\t{hour}:{local.minute:02d}:{local.second:02d} {meridiem}\n"
        f"User:\t\t{event.user}\n"
        f"Computer:\t{event.computer}\n"
        "Description:\n"
        f"{event.text}\n"
        "\n"
        "For more information, see Help and Support Center at http://go.microsoft.com/fwlink/events.asp.\n"
    )
