"""After MASSYNC's HTTP 500, the analyzer reads the Server ActiveSync events of that request and
names MASSYNC's ExchangeVDir and the setting of the vdir the event's back-end status points at.

These run in-process on a registry.ini and a real event log: the events are
written as MASSYNC writes them, the configuration is read as the host reads it.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from host.config import load_config
from host.eventlog import Level
from host.metabase import PropertyTable
from host.plugins import collect, make_plugin_manager
from host.regfile import Registry, RegType
from host.testing import registry_text
from plugins.activesync.plugin import MASSYNC_PARAMETERS
from plugins.analyzer.causes import massync_causes, massync_events
from plugins.analyzer.lab import Lab

EXCHANGE = "/LM/W3SVC/1/ROOT/Exchange"


def lab_on(tmp_path, values) -> Lab:
    path = tmp_path / "registry.ini"
    path.write_text(registry_text(values), encoding="utf-8")
    table = PropertyTable(collect(make_plugin_manager().hook.register_registry_properties()))
    return Lab.open(load_config(path, table), tmp_path / "data")


def causes_after(lab: Lab, event_id: int, text: str) -> list[str]:
    since = datetime.now(timezone.utc) - timedelta(seconds=1)
    lab.eventlog.write("Server ActiveSync", event_id, Level.ERROR, text)
    return [str(cause) for cause in massync_causes(lab, massync_events(lab, since))]


def line_of(tmp_path, key: str, name: str) -> int:
    return Registry.from_file(tmp_path / "registry.ini").value(key, name).location.line


def test_a_renamed_exchange_vdir_is_named_with_its_registry_line(tmp_path):
    lab = lab_on(tmp_path, [(MASSYNC_PARAMETERS, "ExchangeVDir", RegType.REG_SZ, "/exchange-oma")])
    causes = causes_after(lab, 3005, "An error occurred while MASSYNC accessed the mailbox of CONTOSO\\alice for "
                                     "FolderSync: PROPFIND http://exchange01/exchange-oma/alice/ returned HTTP 404")
    assert causes == [f"ExchangeVDir = /exchange-oma of [{MASSYNC_PARAMETERS}] "
                      f"(registry.ini:{line_of(tmp_path, MASSYNC_PARAMETERS, 'ExchangeVDir')} [{MASSYNC_PARAMETERS}]): "
                      "MASSYNC reaches every mailbox over HTTP through /exchange-oma on the home server; no site has "
                      "a vdir /exchange-oma; the event quotes the back end's HTTP 404.0"]


def test_ssl_required_on_the_exchange_vdir_is_named_after_a_403_4(tmp_path):
    """The event gives the back end's status (403); the hop's own W3C log line gives the substatus (4)."""
    lab = lab_on(tmp_path, [(EXCHANGE, "AccessSSLFlags", RegType.REG_DWORD, 8)])
    logs = tmp_path / "data" / "LogFiles" / "W3SVC1"
    logs.mkdir(parents=True)
    (logs / "ex261126.log").write_text(
        "#Software: Microsoft Internet Information Services 6.0\n"
        "#Fields: date time cs-method cs-uri-stem sc-status sc-substatus sc-win32-status\n"
        "2026-11-26 10:00:00 POST /Microsoft-Server-ActiveSync 500 0 0\n"
        "2026-11-26 10:00:00 PROPFIND /exchange/alice/ 403 4 5\n", encoding="utf-8")
    causes = causes_after(lab, 3005, "Unexpected Exchange mailbox server error: Server: [EXCHANGE01] User: "
                                     "[alice@contoso.com] HTTP status code: [403]. PROPFIND "
                                     "http://exchange01.contoso.com/exchange/alice/: Forbidden.")
    assert len(causes) == 2 and causes[0].startswith(f"ExchangeVDir = /Exchange of [{MASSYNC_PARAMETERS}] (default)")
    assert causes[1].startswith(f"AccessSSLFlags = 0x8 (AccessSSL) of [{EXCHANGE}] "
                                f"(registry.ini:{line_of(tmp_path, EXCHANGE, 'AccessSSLFlags')} [{EXCHANGE}])")
    assert "MASSYNC's own request got 403.4" in causes[1]


def test_an_unexpected_massync_error_names_no_setting(tmp_path):
    lab = lab_on(tmp_path, [])
    assert causes_after(lab, 3001, "An unexpected error occurred while serving POST ...\nTraceback ...") == []
