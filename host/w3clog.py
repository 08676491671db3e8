"""The W3C Extended Log File Format, written the way IIS 6 (HTTP.sys) writes it.

A trainee reads these files with the same eyes (and tools, such as Log Parser)
as a real server's, so every detail follows IIS 6: the ``#Software`` header
block, the ``LogExtFileFlags`` bit mask and IIS's own field order (which is not
the bit order), ``-`` for an empty value, ``+`` for white space inside one,
CRLF line ends, UTC times, and the file names and rollover rules of
``LogFilePeriod``.
"""
from __future__ import annotations

import functools

import enum
import os
import re
import sys
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import BinaryIO, Callable


class ExtFileFlag(enum.IntFlag):
    """The ``LogExtFileFlags`` bits (``MD_EXTLOG_*`` in IIS 6's ``iiscnfg.h``)."""

    DATE = 0x00000001
    TIME = 0x00000002
    CLIENT_IP = 0x00000004
    USER_NAME = 0x00000008
    SITE_NAME = 0x00000010
    COMPUTER_NAME = 0x00000020
    SERVER_IP = 0x00000040
    METHOD = 0x00000080
    URI_STEM = 0x00000100
    URI_QUERY = 0x00000200
    HTTP_STATUS = 0x00000400
    WIN32_STATUS = 0x00000800
    BYTES_SENT = 0x00001000
    BYTES_RECV = 0x00002000
    TIME_TAKEN = 0x00004000
    SERVER_PORT = 0x00008000
    USER_AGENT = 0x00010000
    COOKIE = 0x00020000
    REFERER = 0x00040000
    PROTOCOL_VERSION = 0x00080000
    HOST = 0x00100000
    HTTP_SUB_STATUS = 0x00200000


# The lab's default: IIS 6's internal default plus s-sitename, sc-bytes,
# cs-bytes and time-taken, which the pitfalls are diagnosed with.
DEFAULT_EXT_FILE_FLAGS: int = int(
    ExtFileFlag.DATE | ExtFileFlag.TIME | ExtFileFlag.SITE_NAME | ExtFileFlag.SERVER_IP
    | ExtFileFlag.METHOD | ExtFileFlag.URI_STEM | ExtFileFlag.URI_QUERY | ExtFileFlag.SERVER_PORT
    | ExtFileFlag.USER_NAME | ExtFileFlag.CLIENT_IP | ExtFileFlag.USER_AGENT
    | ExtFileFlag.HTTP_STATUS | ExtFileFlag.HTTP_SUB_STATUS | ExtFileFlag.WIN32_STATUS
    | ExtFileFlag.BYTES_SENT | ExtFileFlag.BYTES_RECV | ExtFileFlag.TIME_TAKEN
)

# LogFilePeriod values.
PERIOD_MAX_SIZE = 0
PERIOD_DAILY = 1
PERIOD_WEEKLY = 2
PERIOD_MONTHLY = 3
PERIOD_HOURLY = 4

SOFTWARE = "Microsoft Internet Information Services 6.0"


@dataclass
class LogEntry:
    """One request as the W3C log records it; the pipeline fills it in when the response is sent."""

    time: datetime  # when the request ended; naive means UTC
    site_name: str  # "W3SVC1"
    computer_name: str
    server_ip: str
    method: str
    uri_stem: str
    uri_query: str
    server_port: int
    username: str  # "CONTOSO\alice"; "" when anonymous
    client_ip: str
    protocol_version: str  # "HTTP/1.1"
    user_agent: str
    cookie: str
    referer: str
    host: str
    status: int
    substatus: int
    win32_status: int
    bytes_sent: int
    bytes_received: int
    time_taken_ms: int


def _text(value: str) -> str:
    """Render a text field: IIS writes ``-`` for an empty one and ``+`` for white space in it.

    Control characters become ``+`` too: a real HTTP parser never lets them
    through, and here they must never split a line.
    """
    if not value:
        return "-"
    return value.translate(_PLUS)


# Every character _text turns into "+": C0 controls, DEL and all of str.isspace()'s white space
# (a translate table: this runs for every field of every request).
_PLUS = {code: "+" for code in (*range(0x21), 0x7F, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029,
                                0x202F, 0x205F, 0x3000)}


@dataclass(frozen=True)
class _Field:
    name: str
    flag: ExtFileFlag
    render: Callable[[LogEntry], str]


# HTTP.sys's order of W3C fields (ullog.c), which is not the bit order.
_FIELDS: tuple[_Field, ...] = (
    _Field("date", ExtFileFlag.DATE, lambda e: _utc(e.time).strftime("%Y-%m-%d")),
    _Field("time", ExtFileFlag.TIME, lambda e: _utc(e.time).strftime("%H:%M:%S")),
    _Field("s-sitename", ExtFileFlag.SITE_NAME, lambda e: _text(e.site_name)),
    _Field("s-computername", ExtFileFlag.COMPUTER_NAME, lambda e: _text(e.computer_name)),
    _Field("s-ip", ExtFileFlag.SERVER_IP, lambda e: _text(e.server_ip)),
    _Field("cs-method", ExtFileFlag.METHOD, lambda e: _text(e.method)),
    _Field("cs-uri-stem", ExtFileFlag.URI_STEM, lambda e: _text(e.uri_stem)),
    _Field("cs-uri-query", ExtFileFlag.URI_QUERY, lambda e: _text(e.uri_query)),
    _Field("s-port", ExtFileFlag.SERVER_PORT, lambda e: str(e.server_port)),
    _Field("cs-username", ExtFileFlag.USER_NAME, lambda e: _text(e.username)),
    _Field("c-ip", ExtFileFlag.CLIENT_IP, lambda e: _text(e.client_ip)),
    _Field("cs-version", ExtFileFlag.PROTOCOL_VERSION, lambda e: _text(e.protocol_version)),
    _Field("cs(User-Agent)", ExtFileFlag.USER_AGENT, lambda e: _text(e.user_agent)),
    _Field("cs(Cookie)", ExtFileFlag.COOKIE, lambda e: _text(e.cookie)),
    _Field("cs(Referer)", ExtFileFlag.REFERER, lambda e: _text(e.referer)),
    _Field("cs-host", ExtFileFlag.HOST, lambda e: _text(e.host)),
    _Field("sc-status", ExtFileFlag.HTTP_STATUS, lambda e: str(e.status)),
    _Field("sc-substatus", ExtFileFlag.HTTP_SUB_STATUS, lambda e: str(e.substatus)),
    _Field("sc-win32-status", ExtFileFlag.WIN32_STATUS, lambda e: str(e.win32_status)),
    _Field("sc-bytes", ExtFileFlag.BYTES_SENT, lambda e: str(e.bytes_sent)),
    _Field("cs-bytes", ExtFileFlag.BYTES_RECV, lambda e: str(e.bytes_received)),
    _Field("time-taken", ExtFileFlag.TIME_TAKEN, lambda e: str(e.time_taken_ms)),
)


def _utc(moment: datetime) -> datetime:
    """W3C times are UTC; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def field_names(ext_file_flags: int) -> list[str]:
    """The ``#Fields`` names a ``LogExtFileFlags`` value selects, in IIS's order."""
    return [f.name for f in _FIELDS if ext_file_flags & f.flag]


def format_header(ext_file_flags: int, moment: datetime) -> str:
    """The header block IIS writes at the top of a file and after every restart or field change.

    The ``#Fields`` line keeps IIS's trailing space.
    """
    fields = "".join(" " + name for name in field_names(ext_file_flags))
    return (
        f"#Software: {SOFTWARE}\r\n"
        "#Version: 1.0\r\n"
        f"#Date: {_utc(moment):%Y-%m-%d %H:%M:%S}\r\n"
        f"#Fields:{fields} \r\n"
    )


@functools.lru_cache(maxsize=16)
def _renderers(ext_file_flags: int) -> tuple[Callable[[LogEntry], str], ...]:
    """The render functions a flags value selects, worked out once per value."""
    return tuple(f.render for f in _FIELDS if ext_file_flags & f.flag)


def format_line(entry: LogEntry, ext_file_flags: int) -> str:
    """One log line (CRLF included), or "" when no field is selected (IIS then logs nothing)."""
    values = [render(entry) for render in _renderers(int(ext_file_flags))]
    return " ".join(values) + "\r\n" if values else ""


def parse_w3c(text: str) -> list[dict[str, str]]:
    """Read a W3C log back into one dict per line, keyed by the ``#Fields`` in force.

    Values stay as written (``-`` and ``+`` included). A data line before any
    ``#Fields`` or with the wrong number of values is a :class:`ValueError`
    naming the line: the writer must never produce one.
    """
    rows: list[dict[str, str]] = []
    fields: list[str] | None = None
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        if line.startswith("#Fields:"):
            fields = line[len("#Fields:"):].split()
            continue
        if not line or line.startswith("#"):
            continue
        if fields is None:
            raise ValueError(f"line {number}: data before any #Fields directive")
        values = line.split(" ")
        if len(values) != len(fields):
            raise ValueError(f"line {number}: {len(values)} values for {len(fields)} fields")
        rows.append(dict(zip(fields, values)))
    return rows


def _week_of_month(moment: datetime) -> int:
    """IIS's week of the month (UlpWeekOfMonth): weeks start on Sunday, the 1st is in week 1."""
    first_sunday_based = (moment.replace(day=1).weekday() + 1) % 7
    return (moment.day - 1 + first_sunday_based) // 7 + 1


def _period_start(period: int, moment: datetime) -> datetime:
    """Start of the rollover period holding ``moment`` (a weekly file also ends with its month)."""
    if period == PERIOD_HOURLY:
        return moment.replace(minute=0, second=0, microsecond=0)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == PERIOD_DAILY:
        return day
    if period == PERIOD_WEEKLY:
        sunday = day - timedelta(days=(day.weekday() + 1) % 7)
        return max(sunday, day.replace(day=1))
    return day.replace(day=1)


def _time_file_name(period: int, moment: datetime) -> str:
    """exYYMMDDHH / exYYMMDD / exYYMMWW / exYYMM, as UlConstructFileName builds them."""
    yymm = f"ex{moment.year % 100:02d}{moment.month:02d}"
    if period == PERIOD_HOURLY:
        return f"{yymm}{moment.day:02d}{moment.hour:02d}.log"
    if period == PERIOD_DAILY:
        return f"{yymm}{moment.day:02d}.log"
    if period == PERIOD_WEEKLY:
        return f"{yymm}{_week_of_month(moment):02d}.log"
    return f"{yymm}.log"


_EXTEND_NAME = re.compile(r"extend(\d+)\.log", re.IGNORECASE)


def _last_extend_number(directory: Path) -> int:
    """The highest N of an existing extendN.log (IIS appends to it while it has room), else 1."""
    if not directory.is_dir():
        return 1
    numbers = [int(m.group(1)) for p in directory.iterdir() if (m := _EXTEND_NAME.fullmatch(p.name)) and p.is_file()]
    return max(numbers, default=1)


class W3CLog:
    """The W3C extended log of one site: ``<log_dir>/W3SVC<site_id>/<file name>``.

    Many request threads call :meth:`write`; a lock keeps lines whole and each
    line reaches the file before ``write`` returns, so ``tail -f`` shows it at
    once. Like HTTP.sys, the writer only ever rolls forward: an entry older
    than the open file's period is written to the open file. A failing disk
    never fails a request: the problem is reported once on stderr and logging
    resumes, with a fresh header, when the file can be written again.
    """

    def __init__(
        self,
        log_dir: Path,
        site_id: int,
        *,
        ext_file_flags: int = DEFAULT_EXT_FILE_FLAGS,
        period: int = PERIOD_DAILY,
        truncate_size: int = 20971520,
        enabled: bool = True,
        localtime_rollover: bool = False,
    ) -> None:
        self._lock = threading.Lock()
        self._site_id = site_id
        self._log_dir = Path(log_dir)
        self._flags = ext_file_flags
        self._period = _checked_period(period)
        self._truncate_size = truncate_size
        self._enabled = enabled
        self._localtime_rollover = localtime_rollover
        self._file: BinaryIO | None = None
        self._path: Path | None = None
        self._size = 0
        self._period_begin: datetime | None = None
        self._extend_number = 1
        self._header_written = False
        self._failing = False

    def configure(
        self,
        *,
        log_dir: Path | None = None,
        ext_file_flags: int | None = None,
        period: int | None = None,
        truncate_size: int | None = None,
        enabled: bool | None = None,
        localtime_rollover: bool | None = None,
    ) -> None:
        """Apply changed settings at run time (a config reload), as IIS reconfigures a log entry.

        A new folder, period or rollover clock closes the file (the next line
        opens the right one); new fields start a new header block in the same
        file; disabling closes the file.
        """
        with self._lock:
            if period is not None:
                period = _checked_period(period)
            reopen = (
                (log_dir is not None and Path(log_dir) != self._log_dir)
                or (period is not None and period != self._period)
                or (localtime_rollover is not None and localtime_rollover != self._localtime_rollover)
                or enabled is False
            )
            if log_dir is not None:
                self._log_dir = Path(log_dir)
            if period is not None:
                self._period = period
            if truncate_size is not None:
                self._truncate_size = truncate_size
            if enabled is not None:
                self._enabled = enabled
            if localtime_rollover is not None:
                self._localtime_rollover = localtime_rollover
            if ext_file_flags is not None and ext_file_flags != self._flags:
                self._flags = ext_file_flags
                self._header_written = False
            if reopen:
                self._close_file()

    def write(self, entry: LogEntry) -> None:
        """Append one line (after a header block when one is due); never raises on I/O errors."""
        with self._lock:
            if not self._enabled:
                return
            line = format_line(entry, self._flags)
            if not line:
                return
            try:
                self._write_locked(entry.time, line)
            except OSError as exc:
                self._close_file()
                if not self._failing:
                    print(f"W3SVC{self._site_id}: cannot write the W3C log in {self._site_dir()}: {exc}",
                          file=sys.stderr)
                    self._failing = True
            else:
                self._failing = False

    def close(self) -> None:
        """Close the file; a later :meth:`write` reopens it with a new header block, as IIS does after a restart."""
        with self._lock:
            self._close_file()

    def current_path(self) -> Path | None:
        """The file lines currently go to, or ``None`` when none is open."""
        with self._lock:
            return self._path if self._file is not None else None

    # -- under the lock ---------------------------------------------------------

    def _site_dir(self) -> Path:
        return self._log_dir / f"W3SVC{self._site_id}"

    def _rollover_clock(self, moment: datetime) -> datetime:
        """The time file names and rollover follow: UTC, or local time with LogFileLocaltimeRollover."""
        if not self._localtime_rollover:
            return _utc(moment)
        aware = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
        return aware.astimezone().replace(tzinfo=None)

    def _write_locked(self, moment: datetime, line: str) -> None:
        data = line.encode("utf-8", errors="replace")
        if self._period == PERIOD_MAX_SIZE:
            header_size = 0 if self._header_written else len(format_header(self._flags, moment))
            self._select_size_file(len(data) + header_size)
        else:
            self._select_time_file(self._rollover_clock(moment))
        if not self._header_written:  # (re)checked: selecting a new file asks for a new header
            data = format_header(self._flags, moment).encode("ascii") + data
        assert self._file is not None
        view = memoryview(data)
        while view:
            view = view[self._file.write(view):]
        self._size += len(data)
        self._header_written = True

    def _select_time_file(self, clock: datetime) -> None:
        begin = _period_start(self._period, clock)
        if self._file is not None and self._period_begin is not None and begin <= self._period_begin:
            return
        self._close_file()
        self._open(self._site_dir() / _time_file_name(self._period, clock))
        self._period_begin = begin

    def _select_size_file(self, record_size: int) -> None:
        """extendN.log: continue the highest N; start N+1 when this record would pass LogFileTruncateSize."""
        if self._file is None:
            directory = self._site_dir()
            self._extend_number = _last_extend_number(directory)
            self._open(directory / f"extend{self._extend_number}.log")
        if self._size and self._size + record_size > self._truncate_size:
            self._close_file()
            self._extend_number += 1
            self._open(self._site_dir() / f"extend{self._extend_number}.log")

    def _open(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Unbuffered: each line is one write() to the file, visible at once.
        self._file = open(path, "ab", buffering=0)
        self._path = path
        self._size = self._file.seek(0, os.SEEK_END)
        self._header_written = False

    def _close_file(self) -> None:
        if self._file is not None:
            self._file.close()
        self._file = None
        self._path = None
        self._period_begin = None
        self._header_written = False


def _checked_period(period: int) -> int:
    if period not in (PERIOD_MAX_SIZE, PERIOD_DAILY, PERIOD_WEEKLY, PERIOD_MONTHLY, PERIOD_HOURLY):
        raise ValueError(f"LogFilePeriod {period} is not one of 0 (size), 1 (daily), 2 (weekly), 3 (monthly), 4 (hourly)")
    return period
