"""The event log must behave like Event Viewer's: filters, newest first, a cap, shared by host and CLI."""
from __future__ import annotations

import sqlite3
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from host.eventlog import Event, EventLog, Level, format_event


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "data" / "eventlog.db"


@pytest.fixture
def log(db: Path):
    events = EventLog(db, computer_name="EXCHANGE01")
    yield events
    events.close()


def test_a_written_event_comes_back_with_every_field(log: EventLog) -> None:
    before = datetime.now(timezone.utc)
    written = log.write("Server ActiveSync", 3005, Level.ERROR, "Unexpected Exchange mailbox Server error",
                        category="None", user="CONTOSO\\alice")
    (stored,) = log.query()
    assert stored == written
    assert stored.record_id > 0
    assert (stored.log, stored.source, stored.event_id, stored.level) == ("Application", "Server ActiveSync", 3005,
                                                                          Level.ERROR)
    assert (stored.category, stored.user, stored.computer) == ("None", "CONTOSO\\alice", "EXCHANGE01")
    assert stored.time.tzinfo is not None and before <= stored.time <= datetime.now(timezone.utc)


def test_defaults_are_those_event_viewer_shows(log: EventLog) -> None:
    event = log.write("W3SVC", 1, "Information", "started")
    assert (event.log, event.category, event.user) == ("Application", "None", "N/A")


def test_levels_accept_plain_text(log: EventLog) -> None:
    assert log.write("Security", 529, "failure audit", "Logon failure").level is Level.FAILURE_AUDIT
    assert log.write("Security", 528, "SUCCESS_AUDIT", "Logon").level is Level.SUCCESS_AUDIT
    with pytest.raises(ValueError):
        log.write("W3SVC", 1, "Critical", "no such level on Windows Server 2003")


def test_query_is_newest_first_and_limited(log: EventLog) -> None:
    for n in range(5):
        log.write("W3SVC", n, Level.INFORMATION, f"event {n}")
    assert [e.event_id for e in log.query()] == [4, 3, 2, 1, 0]
    assert [e.event_id for e in log.query(limit=2)] == [4, 3]


def test_query_filters_combine(log: EventLog) -> None:
    log.write("Server ActiveSync", 3033, Level.WARNING, "The average of the most recent heartbeat intervals ...")
    log.write("Server ActiveSync", 3005, Level.ERROR, "Unexpected Exchange mailbox Server error: HTTP 404")
    log.write("MSExchangeOMA", 1805, Level.ERROR, "The Exchange server returned an HTTP error: 403 Forbidden")
    log.write("W3SVC", 1, Level.INFORMATION, "started; 1000 requests queued", log="System")
    assert [e.event_id for e in log.query(source="server activesync")] == [3005, 3033]
    assert [e.event_id for e in log.query(level=Level.ERROR)] == [1805, 3005]
    assert [e.event_id for e in log.query(level="error", source="MSExchangeOMA")] == [1805]
    assert [e.event_id for e in log.query(event_id=3033)] == [3033]
    assert [e.event_id for e in log.query(text="http")] == [1805, 3005]
    assert [e.event_id for e in log.query(text="HTTP 404")] == [3005]
    assert [e.event_id for e in log.query(text="100%")] == []  # % is a character, not a wildcard
    assert [e.event_id for e in log.query(log="system")] == [1]


def test_query_since_is_inclusive(log: EventLog) -> None:
    log.write("W3SVC", 1, Level.INFORMATION, "old")
    time.sleep(0.01)
    middle = log.write("W3SVC", 2, Level.INFORMATION, "middle")
    log.write("W3SVC", 3, Level.INFORMATION, "new")
    assert [e.event_id for e in log.query(since=middle.time)] == [3, 2]
    assert log.query(since=datetime.now(timezone.utc) + timedelta(seconds=1)) == []


def test_the_oldest_events_are_overwritten_beyond_the_cap(db: Path) -> None:
    small = EventLog(db, max_events=5)
    for n in range(8):
        small.write("W3SVC", n, Level.INFORMATION, f"event {n}")
    assert [e.event_id for e in small.query(limit=-1)] == [7, 6, 5, 4, 3]
    small.close()


def test_sinks_receive_each_stored_event(db: Path) -> None:
    seen: list[Event] = []
    events = EventLog(db, sinks=seen.append)
    written = events.write("Server ActiveSync", 3016, Level.WARNING, "MinHeartbeatInterval is larger than Max")
    assert seen == [written]
    assert seen[0].record_id > 0
    events.close()


def test_a_failing_sink_neither_fails_the_write_nor_loses_the_event(db: Path, capsys: pytest.CaptureFixture) -> None:
    def broken(event: Event) -> None:
        raise RuntimeError("sink bug")

    events = EventLog(db, sinks=broken)
    written = events.write("W3SVC", 1, Level.INFORMATION, "still stored")
    assert events.query() == [written]
    assert "sink bug" in capsys.readouterr().err
    events.close()


def test_host_and_cli_objects_on_one_file_see_each_others_events(db: Path) -> None:
    host, cli = EventLog(db), EventLog(db)
    host.write("Server ActiveSync", 3005, Level.ERROR, "from the host")
    assert [e.text for e in cli.query()] == ["from the host"]
    cli.write("EASLab Host", 100, Level.INFORMATION, "from the CLI")
    assert [e.text for e in host.query()] == ["from the CLI", "from the host"]
    assert cli.clear() == 2
    assert host.query() == []
    host.close()
    cli.close()


def test_a_reader_in_the_middle_of_a_read_does_not_block_the_writer(db: Path) -> None:
    writer = EventLog(db, _busy_timeout=0.2)
    writer.write("W3SVC", 1, Level.INFORMATION, "first")
    reader = sqlite3.connect(db, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM events").fetchone()  # holds a read snapshot
    assert writer.write("W3SVC", 2, Level.INFORMATION, "second").record_id > 0
    assert reader.execute("SELECT count(*) FROM events").fetchone() == (1,)  # its snapshot
    reader.execute("COMMIT")
    reader.close()
    assert len(writer.query()) == 2
    writer.close()


def test_a_locked_database_never_fails_the_request(db: Path, capsys: pytest.CaptureFixture) -> None:
    events = EventLog(db, _busy_timeout=0.1)
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    lost = [events.write("W3SVC", n, Level.ERROR, "while locked") for n in range(3)]
    assert [e.record_id for e in lost] == [0, 0, 0]
    assert capsys.readouterr().err.count("cannot store events") == 1
    blocker.execute("ROLLBACK")
    blocker.close()
    assert events.write("W3SVC", 9, Level.INFORMATION, "back").record_id > 0
    assert [e.event_id for e in events.query()] == [9]
    events.close()


def test_concurrent_writers_store_every_event(log: EventLog) -> None:
    def worker(thread: int) -> None:
        for n in range(25):
            log.write("W3SVC", thread * 100 + n, Level.INFORMATION, "x")

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [e.record_id for e in log.query(limit=-1)]
    assert len(ids) == 200 and ids == sorted(ids, reverse=True)


@pytest.fixture
def one_hour_east(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TZ", "CET-1")  # POSIX sign: local time is UTC+1, no DST rule
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("one_hour_east")
def test_format_event_reads_like_event_viewer_in_local_time() -> None:
    event = Event(
        record_id=7,
        time=datetime(2026, 11, 26, 15, 44, 36, tzinfo=timezone.utc),
        log="Application",
        source="Server ActiveSync",
        event_id=3005,
        level=Level.ERROR,
        category="None",
        user="N/A",
        computer="EXCHANGE01",
        text="Unexpected Exchange mailbox Server error: Server: [exchange01.contoso.com] "
             "User: [alice@contoso.com] HTTP status code: [404].",
    )
    assert format_event(event) == (
        "Event Type:\tError\n"
        "Event Source:\tServer ActiveSync\n"
        "Event Category:\tNone\n"
        "Event ID:\t3005\n"
        "Date:\t\t11/26/2026\n"
        "Time:\t\t4:44:36 PM\n"
        "User:\t\tN/A\n"
        "Computer:\tEXCHANGE01\n"
        "Description:\n"
        "Unexpected Exchange mailbox Server error: Server: [exchange01.contoso.com] "
        "User: [alice@contoso.com] HTTP status code: [404].\n"
        "\n"
        "For more information, see Help and Support Center at http://go.microsoft.com/fwlink/events.asp.\n"
    )


@pytest.mark.usefixtures("one_hour_east")
def test_format_event_shows_midnight_and_noon_the_windows_way() -> None:
    base = Event(0, datetime(2026, 1, 5, 23, 5, 9, tzinfo=timezone.utc), "Application", "W3SVC", 1,
                 Level.SUCCESS_AUDIT, "None", "N/A", "EXCHANGE01", "x")
    text = format_event(base)
    assert "Event Type:\tSuccess Audit\n" in text
    assert "Date:\t\t1/6/2026\nTime:\t\t12:05:09 AM\n" in text
    noon = Event(0, datetime(2026, 1, 6, 11, 0, 0, tzinfo=timezone.utc), "Application", "W3SVC", 1,
                 Level.INFORMATION, "None", "N/A", "EXCHANGE01", "x")
    assert "Time:\t\t12:00:00 PM\n" in format_event(noon)
