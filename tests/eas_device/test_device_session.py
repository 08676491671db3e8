"""A device session against the fake server: what goes on the wire and how answers are handled."""
from __future__ import annotations

import gzip

import pytest

from device import (
    Add,
    CommandFailed,
    DeviceSession,
    FetchRequest,
    FolderType,
    HttpFailure,
    MoveRequest,
    SyncIncomplete,
    SyncOptions,
)
from eas_fakes import (  # noqa: F401 (fixtures)
    STANDARD_FOLDERS,
    WBXML,
    Recorded,
    el,
    email,
    empty,
    fake,
    folder_sync_reply,
    open_session,
    outline,
    provision_final,
    provision_offer,
    sync_reply,
    wbxml,
)
from plugins.activesync.wbxml import encode

TEMP_KEY, FINAL_KEY = "1307199584", "3942919513"


def text_at(request: Recorded, path: str) -> str | None:
    found = request.xml.find(path)
    return None if found is None else found.text


def test_options_picks_the_highest_version_both_sides_speak(fake, open_session) -> None:
    newest = open_session(fake.url, version=None)
    assert newest.version == "14.1"
    old_phone = open_session(fake.url, version=None, supported_versions=("2.5", "12.0"))
    assert old_phone.version == "12.0"
    forced = open_session(fake.url, version="12.1")
    forced.options()
    assert forced.version == "12.1"
    assert forced.state.server_versions == ["2.5", "12.0", "12.1", "14.0", "14.1"]
    assert forced.state.server_commands == ["Sync", "FolderSync", "Provision", "Ping"]
    assert [(r.method, r.path, r.query) for r in fake.requests][:1] == [("OPTIONS", "/Microsoft-Server-ActiveSync", "")]


def test_folder_sync_bootstraps_then_applies_changes_on_one_connection(fake, open_session) -> None:
    changes = el("FolderHierarchy:FolderSync", None, el("FolderHierarchy:Status", "1"),
                 el("FolderHierarchy:SyncKey", "2"), el("FolderHierarchy:Changes", None,
                     el("FolderHierarchy:Count", "2"),
                     el("FolderHierarchy:Update", None, el("FolderHierarchy:ServerId", "1"),
                        el("FolderHierarchy:ParentId", "0"), el("FolderHierarchy:DisplayName", "Posteingang"),
                        el("FolderHierarchy:Type", "2")),
                     el("FolderHierarchy:Delete", None, el("FolderHierarchy:ServerId", "4"))))
    fake.on("FolderSync", folder_sync_reply("1", *STANDARD_FOLDERS), wbxml(changes))
    phone = open_session(fake.url)
    first = phone.folder_sync()
    assert [f.display_name for f in first.added] == ["Inbox", "Sent Items", "Calendar", "Contacts"]
    phone.folder_sync()
    assert phone.state.folder_sync_key == "2"
    assert {sid: f.display_name for sid, f in phone.state.folders.items()} == {
        "1": "Posteingang", "2": "Sent Items", "3": "Calendar"}
    bootstrap, incremental = fake.requests
    assert bootstrap.query == "Cmd=FolderSync&User=CONTOSO%5Calice&DeviceId=v140Device&DeviceType=SmartPhone"
    assert text_at(bootstrap, "{FolderHierarchy}SyncKey") == "0"
    assert text_at(incremental, "{FolderHierarchy}SyncKey") == "1"
    assert bootstrap.headers["ms-asprotocolversion"] == "14.1"
    assert bootstrap.headers["user-agent"] == "ASOM"
    assert bootstrap.headers["content-type"] == WBXML
    assert "x-ms-policykey" not in bootstrap.headers, "no policy key yet, so no header"
    assert bootstrap.connection == incremental.connection, "one keep-alive connection per device"
    assert first.response.http_status == 200 and first.response.status == 1


@pytest.mark.parametrize("version, policy_type", [("2.5", "MS-WAP-Provisioning-XML"),
                                                  ("12.1", "MS-EAS-Provisioning-WBXML")])
def test_http_449_provisions_in_two_phases_and_retries_once(fake, open_session, version, policy_type) -> None:
    fake.on("FolderSync", lambda r: folder_sync_reply("1", *STANDARD_FOLDERS)
            if r.headers.get("x-ms-policykey") == FINAL_KEY else empty(449))
    fake.on("Provision", provision_offer(TEMP_KEY, policy_type), provision_final(FINAL_KEY, policy_type))
    phone = open_session(fake.url, version=version)
    phone.folder_sync()
    assert fake.commands() == ["FolderSync", "Provision", "Provision", "FolderSync"]
    _, initial, acknowledgement, retried = fake.requests
    assert "x-ms-policykey" not in initial.headers, "MS-ASPROV 2.2.2.42: the initial request has no key"
    assert text_at(initial, "{Provision}Policies/{Provision}Policy/{Provision}PolicyType") == policy_type
    assert acknowledgement.headers["x-ms-policykey"] == TEMP_KEY
    assert text_at(acknowledgement, "{Provision}Policies/{Provision}Policy/{Provision}PolicyKey") == TEMP_KEY
    assert text_at(acknowledgement, "{Provision}Policies/{Provision}Policy/{Provision}Status") == "1"
    assert retried.headers["x-ms-policykey"] == FINAL_KEY
    assert phone.state.policy_key == FINAL_KEY
    if version == "2.5":
        assert "wap-provisioningdoc" in phone.last_provision.wap_document
    else:
        assert phone.last_provision.settings == {"DevicePasswordEnabled": "1", "MinDevicePasswordLength": "4"}


def test_status_142_in_the_body_provisions_with_device_information_on_14_1(fake, open_session) -> None:
    not_provisioned = wbxml(el("FolderHierarchy:FolderSync", None, el("FolderHierarchy:Status", "142")))
    fake.on("FolderSync", lambda r: folder_sync_reply("1", *STANDARD_FOLDERS)
            if r.headers.get("x-ms-policykey") == FINAL_KEY else not_provisioned)
    fake.on("Provision", provision_offer(TEMP_KEY), provision_final(FINAL_KEY))
    phone = open_session(fake.url, version="14.1")
    phone.state.device_info.model = "Lab phone"
    assert phone.folder_sync().sync_key == "1"
    initial = fake.requests[1]
    assert outline(initial.xml).splitlines()[:4] == [
        "Provision:Provision", "  Settings:DeviceInformation", "    Settings:Set", "      Settings:Model = Lab phone"]


def test_provisioning_is_tried_once_per_command_then_the_449_is_reported(fake, open_session) -> None:
    fake.on("FolderSync", empty(449))
    fake.on("Provision", provision_offer(TEMP_KEY), provision_final(FINAL_KEY))
    phone = open_session(fake.url, version="12.1")
    with pytest.raises(HttpFailure) as failure:
        phone.folder_sync()
    assert failure.value.status == 449
    assert fake.commands() == ["FolderSync", "Provision", "Provision", "FolderSync"]


def test_remote_wipe_is_acknowledged_and_the_partnership_forgotten(fake, open_session) -> None:
    wipe = wbxml(el("Provision:Provision", None, el("Provision:Status", "1"), el("Provision:RemoteWipe")))
    fake.on("FolderSync", folder_sync_reply("1", *STANDARD_FOLDERS))
    fake.on("Provision", wipe, wbxml(el("Provision:Provision", None, el("Provision:Status", "1"))))
    phone = open_session(fake.url)
    phone.folder_sync()
    result = phone.provision()
    assert result.remote_wipe and phone.wiped
    assert outline(fake.requests[-1].xml) == "Provision:Provision\n  Provision:RemoteWipe\n    Provision:Status = 1"
    assert phone.state.folders == {} and phone.state.folder_sync_key == "0"


def test_status_140_asks_with_an_empty_provision_and_wipes_without_retrying(fake, open_session) -> None:
    fake.on("FolderSync", wbxml(el("FolderHierarchy:FolderSync", None, el("FolderHierarchy:Status", "140"))))
    fake.on("Provision", wbxml(el("Provision:Provision", None, el("Provision:Status", "1"), el("Provision:RemoteWipe"))),
            wbxml(el("Provision:Provision", None, el("Provision:Status", "1"))))
    phone = open_session(fake.url)
    with pytest.raises(CommandFailed) as failure:
        phone.folder_sync()
    assert failure.value.status == 140 and phone.wiped
    assert fake.commands() == ["FolderSync", "Provision", "Provision"]
    assert outline(fake.requests[1].xml) == "Provision:Provision", "MS-ASPROV 3.1.5.1.1: an empty request"


def test_provision_refusal_is_reported_with_its_status(fake, open_session) -> None:
    fake.on("Provision", wbxml(el("Provision:Provision", None, el("Provision:Status", "1"), el(
        "Provision:Policies", None, el("Provision:Policy", None, el("Provision:PolicyType", "MS-EAS-Provisioning-WBXML"),
                                       el("Provision:Status", "3"))))))
    phone = open_session(fake.url)
    with pytest.raises(CommandFailed) as failure:
        phone.provision()
    assert failure.value.command == "Provision" and failure.value.status == 3


def _paged_inbox(request: Recorded) -> tuple:
    """Key 0 -> 1 (no items); then two pages with MoreAvailable and a last one."""
    key = text_at(request, "{AirSync}Collections/{AirSync}Collection/{AirSync}SyncKey")
    pages = {"0": sync_reply("1", "1"),
             "1": sync_reply("1", "2", email("1:1", "a"), email("1:2", "b"), more=True),
             "2": sync_reply("1", "3", email("1:3", "c"), more=True),
             "3": sync_reply("1", "4", email("1:4", "d"))}
    return pages[key]


def test_sync_all_follows_more_available_to_the_end(fake, open_session) -> None:
    fake.on("FolderSync", folder_sync_reply("1", *STANDARD_FOLDERS))
    fake.on("Sync", _paged_inbox)
    phone = open_session(fake.url)
    found = phone.sync_all([FolderType.INBOX], window_size=2, options=SyncOptions(body_type=1))
    assert {cid: [item.field("Email:Subject") for item in got] for cid, got in found.items()} == {
        "1": ["a", "b", "c", "d"]}
    syncs = [r for r in fake.requests if r.command == "Sync"]
    assert [text_at(r, "{AirSync}Collections/{AirSync}Collection/{AirSync}SyncKey") for r in syncs] == [
        "0", "1", "2", "3"]
    assert outline(syncs[0].xml).splitlines()[3:] == ["      AirSync:SyncKey = 0", "      AirSync:CollectionId = 1"]
    assert outline(syncs[1].xml).splitlines()[5:8] == [
        "      AirSync:GetChanges", "      AirSync:WindowSize = 2", "      AirSync:Options"]
    assert phone.state.sync_keys == {"1": "4"}


def test_sync_all_stops_at_the_round_limit_when_more_is_always_available(fake, open_session) -> None:
    fake.on("FolderSync", folder_sync_reply("1", *STANDARD_FOLDERS))
    fake.on("Sync", sync_reply("1", "1"), sync_reply("1", "2", email("1:1", "again"), more=True))
    phone = open_session(fake.url, max_sync_rounds=3)
    with pytest.raises(SyncIncomplete) as failure:
        phone.sync_all([FolderType.INBOX])
    assert failure.value.rounds == 3
    assert fake.commands().count("Sync") == 1 + 3


def test_client_add_gets_a_server_id_and_an_empty_response_means_no_changes(fake, open_session) -> None:
    added = el("AirSync:Add", None, el("AirSync:ClientId", "c1"), el("AirSync:ServerId", "4:9"),
               el("AirSync:Status", "1"))
    fake.on("Sync", sync_reply("4", "8", responses=[added]), empty(200))
    phone = open_session(fake.url)
    phone.state.sync_keys["4"] = "7"
    reply = phone.sync("4", commands=[Add("c1", [el("Contacts:FirstName", "Ann")])])
    assert [(r.kind, r.client_id, r.server_id, r.status) for r in reply.responses] == [("Add", "c1", "4:9", 1)]
    quiet = phone.sync("4")
    assert quiet.added == [] and quiet.status is None and phone.state.sync_key("4") == "8"


def test_invalid_sync_key_is_reported_and_the_key_reset(fake, open_session) -> None:
    fake.on("Sync", sync_reply("1", "0", status=3))
    phone = open_session(fake.url)
    phone.state.sync_keys["1"] = "5"
    with pytest.raises(CommandFailed) as failure:
        phone.sync("1")
    assert failure.value.status == 3 and phone.state.sync_key("1") == "0"


def test_server_errors_are_reported_with_status_body_and_redirect(fake, open_session) -> None:
    page = b"<html><title>The page cannot be displayed</title>HTTP 500</html>"
    fake.on("FolderSync", (500, {"Content-Type": "text/html"}, page),
            empty(451, **{"X-MS-Location": "https://mail2.contoso.com/Microsoft-Server-ActiveSync"}))
    phone = open_session(fake.url)
    with pytest.raises(HttpFailure) as error:
        phone.folder_sync()
    assert error.value.status == 500 and error.value.body == page
    assert error.value.response.xml is None
    with pytest.raises(HttpFailure) as moved:
        phone.folder_sync()
    assert moved.value.status == 451
    assert moved.value.location == "https://mail2.contoso.com/Microsoft-Server-ActiveSync"


def test_base64_query_replaces_version_and_policy_key_headers(fake, open_session) -> None:
    fake.on("FolderSync", folder_sync_reply("1"))
    phone = open_session(fake.url, version="14.1", query_style="base64", locale=0x0407)
    phone.state.policy_key = FINAL_KEY
    phone.folder_sync()
    (request,) = fake.requests
    assert request.base64 == {"version": 141, "command": "FolderSync", "locale": 0x0407, "device_id": "v140Device",
                              "policy_key": int(FINAL_KEY), "device_type": "SmartPhone", "params": {}}
    assert "ms-asprotocolversion" not in request.headers and "x-ms-policykey" not in request.headers


def test_base64_style_falls_back_to_plain_text_for_2_5(fake, open_session) -> None:
    fake.on("FolderSync", folder_sync_reply("1"))
    open_session(fake.url, version="2.5", query_style="base64").folder_sync()
    assert fake.requests[0].params["Cmd"] == "FolderSync"
    assert fake.requests[0].headers["ms-asprotocolversion"] == "2.5"


def test_send_mail_posts_rfc822_before_14_0_and_wbxml_after(fake, open_session) -> None:
    fake.on("SendMail", empty(200))
    message = b"From: alice@contoso.com\r\nSubject: hi\r\n\r\nHello"
    open_session(fake.url, version="12.1").send_mail(message)
    open_session(fake.url, version="14.1").send_mail(message, client_id="c0ffee")
    old, new = fake.requests
    assert old.params["SaveInSent"] == "T" and old.headers["content-type"] == "message/rfc822" and old.body == message
    assert new.headers["content-type"] == WBXML
    assert outline(new.xml).splitlines()[1:3] == ["  ComposeMail:ClientId = c0ffee", "  ComposeMail:SaveInSentItems"]


def test_device_state_survives_a_restart(fake, open_session, tmp_path) -> None:
    fake.on("FolderSync", folder_sync_reply("1", *STANDARD_FOLDERS), folder_sync_reply("2"))
    fake.on("Sync", sync_reply("1", "1"), sync_reply("1", "2", email("1:1", "a")))
    state_file = tmp_path / "phone.json"
    phone = open_session(fake.url, state_file=state_file)
    phone.state.policy_key = FINAL_KEY
    phone.sync_all()
    phone.close()
    resumed = DeviceSession.resume(state_file)
    try:
        assert resumed.state == phone.state
        assert resumed.state.folders["1"].item_class == "Email"
        resumed.folder_sync()
    finally:
        resumed.close()
    last = fake.requests[-1]
    assert text_at(last, "{FolderHierarchy}SyncKey") == "1"
    assert last.headers["x-ms-policykey"] == FINAL_KEY and last.headers["ms-asprotocolversion"] == "14.1"


def test_gzip_responses_are_unpacked(fake, open_session) -> None:
    status, headers, body = folder_sync_reply("1", *STANDARD_FOLDERS)
    fake.on("FolderSync", (status, {**headers, "Content-Encoding": "gzip"}, gzip.compress(body)))
    phone = open_session(fake.url, accept_gzip=True)
    changes = phone.folder_sync()
    assert len(changes.added) == 4 and changes.response.compressed
    assert fake.requests[0].headers["accept-encoding"] == "gzip"


# MS-ASCMD 4.10.5.2: a multipart ItemOperations response (WBXML part + a 19-byte body part).
SPEC_MULTIPART = bytes.fromhex(
    "0200000014000000F4010000080200001300000003016A000014454D033100014E464D03310001000052033500014D03353A31"
    "00015003456D61696C000100144B0002560322446576696365205573657222203C6465766963657573657240636F6E746F736F"
    "2E636F6D3E0001580322446576696365205573657222203C6465766963657573657240636F6E746F736F2E636F6D3E00015403"
    "54657374204D756C74697061727420526573706F6E736500014F03323031322D30352D30385432303A31353A34352E3231315A"
    "0001510344657669636520557365720001750354657374204D756C74697061727420526573706F6E73650001520331000155"
    "0330000100114E4F5003746573742E7478740001510352674141414143333064496F6B2532624A6854616962504766417173"
    "414B427744326C516E4B2532666262415149526455774230396B253262484141414141414156414144326C516E4B25326662"
    "62415149526455774230396B25326248414146347141253262534141414A25336130000152033100014C033733000101014A"
    "46033100014C033139000100145103310001010002530349504D2E4E6F746500017903323835393100013A7C0375726E3A63"
    "6F6E74656E742D636C61737365733A6D657373616765000100115603320001001649C310ADA57BDA90934B4CAE83B1A1AFDD"
    "EAD5014AC305CD2D5758360101010101546869732069732074686520626F64792E0D0A")


def test_multipart_fetch_returns_the_body_part(fake, open_session) -> None:
    fake.on("ItemOperations", (200, {"Content-Type": "application/vnd.ms-sync.multipart"}, SPEC_MULTIPART))
    phone = open_session(fake.url)
    reply = phone.fetch(FetchRequest(collection_id="5", server_id="5:1", body_type=1), accept_multipart=True)
    (item,) = reply.fetched
    assert item.status == 1 and item.field("Email:Subject") == "Test Multipart Response"
    assert item.content == b"This is the body.\r\n"
    assert fake.requests[0].headers["ms-asacceptmultipart"] == "T"


def test_ping_reports_changed_folders_and_get_item_estimate_counts(fake, open_session) -> None:
    fake.on("FolderSync", folder_sync_reply("1", *STANDARD_FOLDERS))
    fake.on("Ping", wbxml(el("Ping:Ping", None, el("Ping:Status", "2"),
                             el("Ping:Folders", None, el("Ping:Folder", "1")))))
    fake.on("GetItemEstimate", wbxml(el("GetItemEstimate:GetItemEstimate", None, el(
        "GetItemEstimate:Response", None, el("GetItemEstimate:Status", "1"), el(
            "GetItemEstimate:Collection", None, el("GetItemEstimate:CollectionId", "1"),
            el("GetItemEstimate:Estimate", "12"))))))
    phone = open_session(fake.url)
    phone.folder_sync()
    pinged = phone.ping(["1", "3"], heartbeat_interval=60)
    assert pinged.status == 2 and pinged.changed == ["1"]
    assert [(f.findtext("{Ping}Id"), f.findtext("{Ping}Class")) for f in fake.requests[1].xml.iter("{Ping}Folder")] \
        == [("1", "Email"), ("3", "Calendar")]
    assert phone.get_item_estimate(["1"]).estimate("1").estimate == 12


def test_wbxml_that_does_not_decode_is_a_protocol_error(fake, open_session) -> None:
    from device import ProtocolError

    fake.on("FolderSync", (200, {"Content-Type": WBXML}, encode(el("FolderHierarchy:FolderSync"))[:-1]))
    with pytest.raises(ProtocolError) as error:
        open_session(fake.url).folder_sync()
    assert error.value.response.http_status == 200


def test_folder_create_and_delete_keep_the_hierarchy_and_its_key(fake, open_session) -> None:
    fake.on("FolderSync", folder_sync_reply("1", *STANDARD_FOLDERS))
    fake.on("FolderCreate", wbxml(el("FolderHierarchy:FolderCreate", None, el("FolderHierarchy:Status", "1"),
                                     el("FolderHierarchy:SyncKey", "2"), el("FolderHierarchy:ServerId", "9"))))
    fake.on("FolderDelete", wbxml(el("FolderHierarchy:FolderDelete", None, el("FolderHierarchy:Status", "1"),
                                     el("FolderHierarchy:SyncKey", "3"))),
            wbxml(el("FolderHierarchy:FolderDelete", None, el("FolderHierarchy:Status", "4"))))
    phone = open_session(fake.url)
    phone.folder_sync()
    assert phone.folder_create("1", "Projekte", FolderType.USER_MAIL).server_id == "9"
    assert phone.state.folders["9"].display_name == "Projekte" and phone.state.folder_sync_key == "2"
    phone.folder_delete("9")
    assert "9" not in phone.state.folders and phone.state.folder_sync_key == "3"
    assert text_at(fake.requests[-1], "{FolderHierarchy}SyncKey") == "2"
    with pytest.raises(CommandFailed) as failure:
        phone.folder_delete("2")
    assert failure.value.command == "FolderDelete" and failure.value.status == 4


def test_replies_of_settings_search_move_meeting_and_resolve_are_read(fake, open_session) -> None:
    fake.on("Settings", wbxml(el("Settings:Settings", None, el("Settings:Status", "1"), el(
        "Settings:UserInformation", None, el("Settings:Status", "1"), el("Settings:Get", None, el(
            "Settings:Accounts", None, el("Settings:Account", None, el("Settings:EmailAddresses", None,
                el("Settings:SMTPAddress", "alice@contoso.com"), el("Settings:SMTPAddress", "a@contoso.com"),
                el("Settings:PrimarySmtpAddress", "alice@contoso.com")))))))))
    fake.on("Search", wbxml(el("Search:Search", None, el("Search:Status", "1"), el("Search:Response", None, el(
        "Search:Store", None, el("Search:Status", "1"), el("Search:Result", None, el("Search:Properties", None,
            el("Gal:DisplayName", "Alice"), el("Gal:EmailAddress", "alice@contoso.com"))),
        el("Search:Range", "0-0"), el("Search:Total", "1"))))))
    fake.on("MoveItems", wbxml(el("Move:MoveItems", None, el("Move:Response", None, el("Move:SrcMsgId", "1:5"),
                                                             el("Move:Status", "3"), el("Move:DstMsgId", "6:1")))))
    fake.on("MeetingResponse", wbxml(el("MeetingResponse:MeetingResponse", None, el(
        "MeetingResponse:Result", None, el("MeetingResponse:RequestId", "1:7"), el("MeetingResponse:Status", "1"),
        el("MeetingResponse:CalendarId", "3:2")))))
    fake.on("ResolveRecipients", wbxml(el("ResolveRecipients:ResolveRecipients", None,
        el("ResolveRecipients:Status", "1"), el("ResolveRecipients:Response", None,
            el("ResolveRecipients:To", "alice"), el("ResolveRecipients:Status", "1"),
            el("ResolveRecipients:RecipientCount", "1"), el("ResolveRecipients:Recipient", None,
                el("ResolveRecipients:Type", "1"), el("ResolveRecipients:DisplayName", "Alice"),
                el("ResolveRecipients:EmailAddress", "alice@contoso.com"))))))
    phone = open_session(fake.url)
    user = phone.user_information()
    assert user.smtp_addresses == ["alice@contoso.com", "a@contoso.com"]
    assert user.primary_smtp_address == "alice@contoso.com" and user.user_information_status == 1
    gal = phone.search_gal("ali")
    assert gal.total == 1 and [r.field("Gal:EmailAddress") for r in gal.results] == ["alice@contoso.com"]
    moved = phone.move_items(MoveRequest("1:5", "1", "6"))
    assert [(m.src_msg_id, m.status, m.dst_msg_id) for m in moved.results] == [("1:5", 3, "6:1")]
    met = phone.meeting_response(1, collection_id="1", request_id="1:7")
    assert [(m.request_id, m.status, m.calendar_id) for m in met.results] == [("1:7", 1, "3:2")]
    resolved = phone.resolve_recipients(["alice"])
    assert [(r.to, r.status, [p.email_address for p in r.recipients]) for r in resolved.resolutions] == [
        ("alice", 1, ["alice@contoso.com"])]
    assert fake.commands() == ["Settings", "Search", "MoveItems", "MeetingResponse", "ResolveRecipients"]
