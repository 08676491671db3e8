"""MS-ASHTTP as a device meets it: OPTIONS, both query forms, versions, errors, gzip, the W3C log."""
from __future__ import annotations

import gzip

import pytest

from plugins.activesync.commands import foldersync
from plugins.activesync.query import EasQuery, encode_query, parse_query
from plugins.activesync.wbxml import decode, encode

from .conftest import policy_value, w3c_rows
from .easclient import el


def test_options_advertises_exactly_what_the_2003_persona_speaks(eas_lab):
    lab = eas_lab("Exchange 2003 SP2")
    answer = lab.client().options()
    assert answer.status == 200
    assert answer.headers["ms-asprotocolversions"] == "1.0,2.0,2.1,2.5"
    assert answer.headers["ms-server-activesync"] == "6.5.7638.1"
    commands = answer.headers["ms-asprotocolcommands"].split(",")
    assert "Sync" in commands and "Provision" in commands and "Settings" not in commands
    assert "OPTIONS" in answer.headers["allow"] and "POST" in answer.headers["allow"]


def test_options_of_2016_offers_16_1(eas_lab):
    answer = eas_lab("Exchange 2016").client().options()
    assert answer.headers["ms-asprotocolversions"].endswith("14.1,16.0,16.1")


def test_a_version_the_persona_does_not_speak_is_400(eas_lab):
    lab = eas_lab("Exchange 2003 SP2")
    answer = lab.client(version="14.1").folder_sync()
    assert answer.status == 400 and answer.headers["ms-asprotocolversions"] == "1.0,2.0,2.1,2.5"


def test_unknown_command_is_501(eas_lab):
    lab = eas_lab("Exchange 2016")
    device = lab.client(version="16.1")
    assert device.post("Frobnicate", url=device.url("Frobnicate")).status == 501


def test_a_query_without_cmd_is_400(eas_lab):
    lab = eas_lab("Exchange 2016")
    device = lab.client(version="16.1")
    assert device.post("FolderSync", url="/Microsoft-Server-ActiveSync?User=alice&DeviceId=X1").status == 400
    assert device.post("FolderSync", url="/Microsoft-Server-ActiveSync?%%%%").status == 400


def test_base64_query_round_trips_the_spec_example():
    # MS-ASHTTP 2.2.1.1.1.1: "jAAJBAp2MTQwRGV2aWNlAApTbWFydFBob25l"
    query = parse_query("jAAJBAp2MTQwRGV2aWNlAApTbWFydFBob25l", {})
    assert (query.command, query.protocol_version, query.device_id, query.device_type, query.policy_key,
            query.locale) == ("Sync", "14.0", "v140Device", "SmartPhone", None, 0x0409)


def test_base64_query_carries_policy_key_and_parameters():
    query = EasQuery("SmartReply", "alice", "DEV1", "iPhone", "14.1", 3141592653,
                     {"ItemId": "7:12", "CollectionId": "7"}, save_in_sent=True)
    parsed = parse_query(encode_query(query), {})
    assert parsed.policy_key == 3141592653 and parsed.parameters == {"ItemId": "7:12", "CollectionId": "7"}
    assert parsed.user == "alice" and parsed.save_in_sent and parsed.encoded


def test_a_device_using_the_base64_query_syncs(eas_lab):
    lab = eas_lab("Exchange 2016")
    device = lab.client(version="14.1", encoded_query=True)
    device.provision()
    answer = device.folder_sync()
    assert answer.status == 200 and answer.text("fh:Status") == "1"


def test_malformed_wbxml_is_400_before_14_0(eas_lab):
    lab = eas_lab("Exchange 2007 SP1")
    answer = lab.client(version="12.1").post("FolderSync", raw=b"\x03\x01j\x00\x00\x07V")
    assert answer.status == 400


def test_malformed_wbxml_is_status_102_from_14_0(eas_lab):
    lab = eas_lab("Exchange 2010 SP1")
    device = lab.client(version="14.1")
    device.provision()
    answer = device.post("FolderSync", raw=b"\x03\x01j\x00\x00\x07V")
    assert answer.status == 200 and answer.text("fh:Status") == "102"


def test_a_body_for_another_command_is_status_103(eas_lab):
    lab = eas_lab("Exchange 2016")
    device = lab.client(version="16.1")
    device.provision()
    answer = device.post("FolderSync", el("AirSync:Sync"))
    assert answer.text("fh:Status") == "103"


def test_invalid_device_id_is_400_then_status_108(eas_lab):
    lab = eas_lab("Exchange 2016")
    assert lab.client(version="12.1", device_id="bad-id!").folder_sync().status == 400
    answer = lab.client(version="14.1", device_id="x" * 40).folder_sync()
    assert answer.status == 200 and answer.text("fh:Status") == "108"


def test_user_not_enabled_for_activesync_gets_403(eas_lab):
    lab = eas_lab("Exchange 2007 SP1")
    lab.service.directory.update_user("CONTOSO\\alice", activesync_enabled=False)
    assert lab.client(version="12.1").folder_sync().status == 403


@pytest.mark.realserver
def test_gzip_when_the_device_offers_it(real_eas):
    lab = real_eas("Exchange 2007 SP1")
    device = lab.client(version="12.1")
    status, headers, body = device.wire.request("POST", device.url("FolderSync"), {
        "Authorization": device._auth(), "MS-ASProtocolVersion": "12.1", "Accept-Encoding": "gzip"},
        encode(el("FolderHierarchy:FolderSync", None, el("FolderHierarchy:SyncKey", "0"))))
    assert status == 200 and headers["content-encoding"] == "gzip"
    assert decode(gzip.decompress(body)).findtext("{FolderHierarchy}Status") == "1"


def test_the_w3c_log_shows_the_usage_field(eas_lab):
    lab = eas_lab("Exchange 2007 SP1")
    lab.client(version="12.1").folder_sync()
    row = [r for r in w3c_rows(lab.service) if r["cs-method"] == "POST"][-1]
    assert "&Log=V121_Sst" in row["cs-uri-query"] and "_S1_" in row["cs-uri-query"]


def test_an_unexpected_failure_is_500_and_an_event_never_a_traceback(eas_lab, monkeypatch):
    lab = eas_lab("Exchange 2007 SP1")

    def broken(ctx, request):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(foldersync, "run", broken)
    answer = lab.client(version="12.1").folder_sync()
    assert answer.status == 500 and b"Traceback" not in answer.body and b"simulated" not in answer.body
    events = lab.service.eventlog.query(source="Server ActiveSync")
    assert any("simulated bug" in e.text for e in events)


@pytest.mark.parametrize("version,expected", [("12.1", 449), ("14.1", "142")])
def test_an_enforced_policy_sends_unprovisioned_devices_to_provision(eas_lab, version, expected):
    persona = "Exchange 2007 SP1" if version == "12.1" else "Exchange 2010 SP1"
    lab = eas_lab(persona, policy_value("DevicePasswordEnabled", 1))
    answer = lab.client(version=version).folder_sync()
    if expected == 449:
        assert answer.status == 449
    else:
        assert answer.status == 200 and answer.text("fh:Status") == expected
