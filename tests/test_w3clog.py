"""The W3C log must read exactly like an IIS 6 log: header, fields, values, files."""
from __future__ import annotations

import dataclasses
import os
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from host.w3clog import (
    DEFAULT_EXT_FILE_FLAGS,
    PERIOD_DAILY,
    PERIOD_HOURLY,
    PERIOD_MAX_SIZE,
    PERIOD_MONTHLY,
    PERIOD_WEEKLY,
    ExtFileFlag,
    LogEntry,
    W3CLog,
    field_names,
    parse_w3c,
)

T0 = datetime(2026, 11, 26, 16, 44, 36)

ALL_FIELDS = (
    "date time s-sitename s-computername s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
    "cs-version cs(User-Agent) cs(Cookie) cs(Referer) cs-host sc-status sc-substatus sc-win32-status "
    "sc-bytes cs-bytes time-taken"
)
DEFAULT_FIELDS = (
    "date time s-sitename s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) "
    "sc-status sc-substatus sc-win32-status sc-bytes cs-bytes time-taken"
)


def make_entry(**changes: object) -> LogEntry:
    entry = LogEntry(
        time=T0,
        site_name="W3SVC1",
        computer_name="EXCHANGE01",
        server_ip="127.0.0.1",
        method="POST",
        uri_stem="/Microsoft-Server-ActiveSync",
        uri_query="User=alice&DeviceId=ABC&DeviceType=PocketPC&Cmd=Sync",
        server_port=443,
        username="CONTOSO\\alice",
        client_ip="127.0.0.9",
        protocol_version="HTTP/1.1",
        user_agent="MSFT-PPC/5.1.2100",
        cookie="",
        referer="",
        host="mail.contoso.com",
        status=200,
        substatus=0,
        win32_status=0,
        bytes_sent=345,
        bytes_received=678,
        time_taken_ms=15,
    )
    return dataclasses.replace(entry, **changes)


def read(path: Path) -> str:
    """The file exactly as written (CRLF kept)."""
    return path.read_bytes().decode("utf-8")


@pytest.fixture
def log(tmp_path: Path):
    w3c = W3CLog(tmp_path, 1)
    yield w3c
    w3c.close()


def test_first_line_gets_the_iis6_header_block_with_crlf_and_trailing_space(log: W3CLog, tmp_path: Path) -> None:
    log.write(make_entry())
    assert read(tmp_path / "W3SVC1" / "ex261126.log") == (
        "#Software: Microsoft Internet Information Services 6.0\r\n"
        "#Version: 1.0\r\n"
        "#Date: 2026-11-26 16:44:36\r\n"
        f"#Fields: {DEFAULT_FIELDS} \r\n"
        "2026-11-26 16:44:36 W3SVC1 127.0.0.1 POST /Microsoft-Server-ActiveSync "
        "User=alice&DeviceId=ABC&DeviceType=PocketPC&Cmd=Sync 443 CONTOSO\\alice 127.0.0.9 "
        "MSFT-PPC/5.1.2100 200 0 0 345 678 15\r\n"
    )


def test_default_flags_select_the_lab_default_field_list() -> None:
    assert " ".join(field_names(DEFAULT_EXT_FILE_FLAGS)) == DEFAULT_FIELDS


def test_flag_bits_are_those_of_iiscnfg_h() -> None:
    assert ExtFileFlag.DATE == 1 and ExtFileFlag.CLIENT_IP == 4 and ExtFileFlag.SERVER_PORT == 0x8000
    assert ExtFileFlag.HOST == 0x100000 and ExtFileFlag.HTTP_SUB_STATUS == 0x200000
    assert field_names(0x586) == ["time", "cs-method", "cs-uri-stem", "c-ip", "sc-status"]  # IIS 5 default


def test_fields_are_written_in_iis_order_not_bit_order() -> None:
    all_bits = sum(flag.value for flag in ExtFileFlag)
    assert " ".join(field_names(all_bits)) == ALL_FIELDS
    # c-ip is bit 4 but comes after cs-username (bit 8) and s-port (bit 0x8000)
    assert field_names(ExtFileFlag.CLIENT_IP | ExtFileFlag.USER_NAME | ExtFileFlag.SERVER_PORT) == [
        "s-port", "cs-username", "c-ip"]


def test_every_field_lines_up_with_its_name(tmp_path: Path) -> None:
    all_bits = sum(flag.value for flag in ExtFileFlag)
    w3c = W3CLog(tmp_path, 1, ext_file_flags=all_bits)
    w3c.write(make_entry(cookie="s=1", referer="http://x/", win32_status=2148074254, substatus=4, status=403))
    w3c.close()
    (row,) = parse_w3c(read(tmp_path / "W3SVC1" / "ex261126.log"))
    assert row["s-computername"] == "EXCHANGE01"
    assert row["cs-version"] == "HTTP/1.1"
    assert row["cs(Cookie)"] == "s=1"
    assert row["cs(Referer)"] == "http://x/"
    assert row["cs-host"] == "mail.contoso.com"
    assert (row["sc-status"], row["sc-substatus"], row["sc-win32-status"]) == ("403", "4", "2148074254")


def test_empty_values_are_a_dash_and_anonymous_user_is_a_dash(log: W3CLog) -> None:
    log.write(make_entry(uri_query="", username="", user_agent=""))
    (row,) = parse_w3c(read(log.current_path()))
    assert row["cs-uri-query"] == "-"
    assert row["cs-username"] == "-"
    assert row["cs(User-Agent)"] == "-"


def test_white_space_in_a_value_becomes_plus(log: W3CLog) -> None:
    log.write(make_entry(user_agent="Mozilla/4.0 (compatible; MSIE 6.0)", uri_stem="/exchange/alice/Sent Items"))
    text = read(log.current_path())
    assert "Mozilla/4.0+(compatible;+MSIE+6.0)" in text
    assert "/exchange/alice/Sent+Items" in text


def test_a_line_break_in_a_value_cannot_split_the_line(log: W3CLog) -> None:
    log.write(make_entry(user_agent="evil\r\n2026-01-01 00:00:00 forged"))
    rows = parse_w3c(read(log.current_path()))
    assert len(rows) == 1
    assert rows[0]["cs(User-Agent)"] == "evil++2026-01-01+00:00:00+forged"


def test_times_are_written_in_utc(log: W3CLog) -> None:
    berlin = timezone(timedelta(hours=1))
    log.write(make_entry(time=datetime(2026, 11, 26, 17, 44, 36, tzinfo=berlin)))
    (row,) = parse_w3c(read(log.current_path()))
    assert (row["date"], row["time"]) == ("2026-11-26", "16:44:36")


def test_daily_rollover_at_utc_midnight_starts_a_new_file_with_a_header(log: W3CLog, tmp_path: Path) -> None:
    log.write(make_entry(time=datetime(2026, 11, 26, 23, 59, 59)))
    log.write(make_entry(time=datetime(2026, 11, 27, 0, 0, 1)))
    first = read(tmp_path / "W3SVC1" / "ex261126.log")
    second = read(tmp_path / "W3SVC1" / "ex261127.log")
    assert first.count("#Software:") == 1 and len(parse_w3c(first)) == 1
    assert second.startswith("#Software: Microsoft Internet Information Services 6.0\r\n")
    assert "#Date: 2026-11-27 00:00:01\r\n" in second
    assert [r["time"] for r in parse_w3c(second)] == ["00:00:01"]


def test_a_late_entry_from_the_previous_day_stays_in_the_open_file(log: W3CLog, tmp_path: Path) -> None:
    log.write(make_entry(time=datetime(2026, 11, 27, 0, 0, 1)))
    log.write(make_entry(time=datetime(2026, 11, 26, 23, 59, 59)))
    assert not (tmp_path / "W3SVC1" / "ex261126.log").exists()
    assert len(parse_w3c(read(tmp_path / "W3SVC1" / "ex261127.log"))) == 2


@pytest.mark.parametrize(
    ("period", "moment", "name"),
    [
        (PERIOD_HOURLY, datetime(2026, 11, 26, 16, 44, 36), "ex26112616.log"),
        (PERIOD_DAILY, datetime(2026, 11, 26, 16, 44, 36), "ex261126.log"),
        (PERIOD_MONTHLY, datetime(2026, 11, 26, 16, 44, 36), "ex2611.log"),
        # IIS's week of the month: weeks begin on Sunday; July 2000 began on a Saturday.
        (PERIOD_WEEKLY, datetime(2000, 7, 1, 12, 0), "ex000701.log"),
        (PERIOD_WEEKLY, datetime(2000, 7, 2, 12, 0), "ex000702.log"),
        (PERIOD_WEEKLY, datetime(2000, 7, 15, 12, 0), "ex000703.log"),
        (PERIOD_WEEKLY, datetime(2000, 7, 30, 12, 0), "ex000706.log"),
    ],
)
def test_file_names_follow_log_file_period(tmp_path: Path, period: int, moment: datetime, name: str) -> None:
    w3c = W3CLog(tmp_path, 3, period=period)
    w3c.write(make_entry(time=moment))
    assert w3c.current_path() == tmp_path / "W3SVC3" / name
    w3c.close()


def test_weekly_file_rolls_on_sunday_and_on_the_first_of_the_month(tmp_path: Path) -> None:
    w3c = W3CLog(tmp_path, 1, period=PERIOD_WEEKLY)
    names = []
    # Sat 2000-07-29, Sun 07-30, Mon 07-31, Tue 08-01
    for day in (datetime(2000, 7, 29), datetime(2000, 7, 30), datetime(2000, 7, 31), datetime(2000, 8, 1)):
        w3c.write(make_entry(time=day))
        names.append(w3c.current_path().name)
    w3c.close()
    assert names == ["ex000705.log", "ex000706.log", "ex000706.log", "ex000801.log"]


def test_hourly_file_rolls_every_hour(tmp_path: Path) -> None:
    w3c = W3CLog(tmp_path, 1, period=PERIOD_HOURLY)
    w3c.write(make_entry(time=datetime(2026, 11, 26, 16, 59, 59)))
    w3c.write(make_entry(time=datetime(2026, 11, 26, 17, 0, 0)))
    w3c.close()
    assert sorted(p.name for p in (tmp_path / "W3SVC1").iterdir()) == ["ex26112616.log", "ex26112617.log"]


@pytest.fixture
def ten_hours_east(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TZ", "UTC-10")  # POSIX sign: local time is UTC+10
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("ten_hours_east")
def test_localtime_rollover_names_files_by_local_midnight(tmp_path: Path) -> None:
    w3c = W3CLog(tmp_path, 1, localtime_rollover=True)
    w3c.write(make_entry(time=datetime(2026, 11, 26, 16, 0, 0)))  # 02:00 on the 27th, local
    w3c.close()
    text = read(tmp_path / "W3SVC1" / "ex261127.log")
    assert parse_w3c(text)[0]["time"] == "16:00:00"  # the line itself stays UTC


def test_max_size_continues_extend1_then_rolls_to_extend2(tmp_path: Path) -> None:
    # A 278-byte header and 190-byte lines: four lines fit in 1100 bytes, a fifth does not.
    w3c = W3CLog(tmp_path, 1, period=PERIOD_MAX_SIZE, truncate_size=1100)
    for second in range(6):
        w3c.write(make_entry(time=T0 + timedelta(seconds=second)))
    w3c.close()
    site = tmp_path / "W3SVC1"
    assert sorted(p.name for p in site.iterdir()) == ["extend1.log", "extend2.log"]
    first, second = read(site / "extend1.log"), read(site / "extend2.log")
    assert len(first.encode()) <= 1100
    assert [r["time"] for r in parse_w3c(first)] == ["16:44:36", "16:44:37", "16:44:38", "16:44:39"]
    assert second.startswith("#Software: Microsoft Internet Information Services 6.0\r\n")
    assert [r["time"] for r in parse_w3c(second)] == ["16:44:40", "16:44:41"]


def test_max_size_after_restart_appends_to_the_highest_extend_file(tmp_path: Path) -> None:
    site = tmp_path / "W3SVC1"
    site.mkdir()
    (site / "extend2.log").write_bytes(b"")
    (site / "extend10.log").write_bytes(b"#Software: old\r\n")
    w3c = W3CLog(tmp_path, 1, period=PERIOD_MAX_SIZE)
    w3c.write(make_entry())
    w3c.close()
    assert read(site / "extend10.log").startswith("#Software: old\r\n#Software: Microsoft")
    assert not (site / "extend11.log").exists()


def test_changing_the_fields_at_run_time_starts_a_new_header_block_in_the_same_file(log: W3CLog) -> None:
    log.write(make_entry())
    log.configure(ext_file_flags=ExtFileFlag.DATE | ExtFileFlag.TIME | ExtFileFlag.HTTP_STATUS)
    log.write(make_entry(time=T0 + timedelta(seconds=5), status=404))
    text = read(log.current_path())
    assert text.count("#Software:") == 2
    assert text.splitlines()[-2] == "#Fields: date time sc-status "
    rows = parse_w3c(text)
    assert rows[0]["cs-method"] == "POST"
    assert rows[1] == {"date": "2026-11-26", "time": "16:44:41", "sc-status": "404"}


def test_unchanged_fields_on_reload_write_no_new_header(log: W3CLog) -> None:
    log.write(make_entry())
    log.configure(ext_file_flags=DEFAULT_EXT_FILE_FLAGS, truncate_size=1000)
    log.write(make_entry())
    assert read(log.current_path()).count("#Software:") == 1


def test_close_and_reopen_adds_a_header_block_to_the_existing_file(tmp_path: Path) -> None:
    first = W3CLog(tmp_path, 1)
    first.write(make_entry())
    first.close()
    assert first.current_path() is None
    second = W3CLog(tmp_path, 1)  # the service starting again
    second.write(make_entry(time=T0 + timedelta(minutes=1)))
    second.close()
    text = read(tmp_path / "W3SVC1" / "ex261126.log")
    assert text.count("#Software:") == 2
    assert "#Date: 2026-11-26 16:45:36\r\n" in text
    assert len(parse_w3c(text)) == 2


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to list open files")
def test_close_releases_the_file_handle(tmp_path: Path) -> None:
    def open_handles() -> list[str]:
        return [os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd") if _readable_link(fd)]

    w3c = W3CLog(tmp_path, 1)
    w3c.write(make_entry())
    target = str(tmp_path / "W3SVC1" / "ex261126.log")
    assert target in open_handles()
    w3c.close()
    assert target not in open_handles()


def _readable_link(fd: str) -> bool:
    try:
        os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return False
    return True


def test_each_line_is_in_the_file_when_write_returns(log: W3CLog) -> None:
    for n in range(3):
        log.write(make_entry(time=T0 + timedelta(seconds=n)))
        assert len(parse_w3c(read(log.current_path()))) == n + 1


def test_twenty_threads_writing_at_once_never_interleave_lines(log: W3CLog) -> None:
    def worker(thread: int) -> None:
        for n in range(50):
            log.write(make_entry(uri_query=f"thread={thread}&n={n}", user_agent="Agent " * 20))

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    text = read(log.current_path())
    rows = parse_w3c(text)
    assert len(rows) == 1000
    assert {r["cs-uri-query"] for r in rows} == {f"thread={t}&n={n}" for t in range(20) for n in range(50)}
    assert text.count("#Software:") == 1
    assert all(line.endswith("\r") for line in text.split("\n")[:-1])


def test_parse_round_trip_keeps_every_value(log: W3CLog) -> None:
    entries = [make_entry(time=T0 + timedelta(seconds=n), status=200 + n, username=u)
               for n, u in enumerate(["CONTOSO\\alice", "", "CONTOSO\\bob"])]
    for entry in entries:
        log.write(entry)
    rows = parse_w3c(read(log.current_path()))
    assert [(r["time"], r["sc-status"], r["cs-username"]) for r in rows] == [
        ("16:44:36", "200", "CONTOSO\\alice"), ("16:44:37", "201", "-"), ("16:44:38", "202", "CONTOSO\\bob")]


def test_parse_rejects_a_line_with_the_wrong_number_of_values() -> None:
    with pytest.raises(ValueError, match="line 2"):
        parse_w3c("#Fields: date time \r\n2026-11-26\r\n")
    with pytest.raises(ValueError, match="line 1"):
        parse_w3c("2026-11-26 16:44:36\r\n")


def test_disabled_logging_writes_nothing_and_closes_the_file(log: W3CLog, tmp_path: Path) -> None:
    log.write(make_entry())
    log.configure(enabled=False)
    assert log.current_path() is None
    log.write(make_entry(status=500))
    log.configure(enabled=True)
    log.write(make_entry(status=201))
    rows = parse_w3c(read(tmp_path / "W3SVC1" / "ex261126.log"))
    assert [r["sc-status"] for r in rows] == ["200", "201"]


def test_a_new_log_directory_takes_effect_on_the_next_line(log: W3CLog, tmp_path: Path) -> None:
    log.write(make_entry())
    log.configure(log_dir=tmp_path / "elsewhere")
    log.write(make_entry())
    assert log.current_path() == tmp_path / "elsewhere" / "W3SVC1" / "ex261126.log"
    assert read(log.current_path()).startswith("#Software:")


def test_an_unwritable_log_directory_never_fails_the_request(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    blocker = tmp_path / "LogFiles"
    blocker.write_text("a file where the folder should be")
    w3c = W3CLog(blocker, 1)
    w3c.write(make_entry())
    w3c.write(make_entry())
    assert w3c.current_path() is None
    assert capsys.readouterr().err.count("cannot write the W3C log") == 1
    w3c.configure(log_dir=tmp_path / "fixed")
    w3c.write(make_entry())
    assert len(parse_w3c(read(w3c.current_path()))) == 1
    w3c.close()


def test_an_unknown_log_file_period_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="LogFilePeriod 5"):
        W3CLog(tmp_path, 1, period=5)
