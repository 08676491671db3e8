"""Request bodies per MS-ASCMD/MS-ASPROV: element order and version differences.

Each expected outline was written from the spec's element tables, not from
the builder's output; ``outline`` shows namespace:element = text per line.
"""
from __future__ import annotations

from textwrap import dedent

import pytest

from device import Add, Change, Delete, DeviceInformation, Fetch, FetchRequest, MoveRequest, SyncOptions
from device.commands import estimate, folders, items, mail, ping, provision, search, settings, sync
from eas_fakes import el, outline
from plugins.activesync.wbxml import decode, encode


def expect(text: str) -> str:
    return dedent(text).strip("\n")


def test_provision_2_5_asks_for_the_wap_document() -> None:
    assert outline(provision.build_initial("2.5", DeviceInformation(), "UA")) == expect("""
        Provision:Provision
          Provision:Policies
            Provision:Policy
              Provision:PolicyType = MS-WAP-Provisioning-XML
        """)


def test_provision_12_1_asks_for_wbxml_and_must_not_send_device_information() -> None:
    assert outline(provision.build_initial("12.1", DeviceInformation(model="WM6"), "UA")) == expect("""
        Provision:Provision
          Provision:Policies
            Provision:Policy
              Provision:PolicyType = MS-EAS-Provisioning-WBXML
        """)


def test_provision_14_1_sends_device_information_first() -> None:
    info = DeviceInformation(model="iPhone", imei="0123", friendly_name="Alice's phone", os="iOS 4",
                             os_language="English", phone_number="555", mobile_operator="Lab")
    assert outline(provision.build_initial("14.1", info, "Apple-iPhone/1")) == expect("""
        Provision:Provision
          Settings:DeviceInformation
            Settings:Set
              Settings:Model = iPhone
              Settings:IMEI = 0123
              Settings:FriendlyName = Alice's phone
              Settings:OS = iOS 4
              Settings:OSLanguage = English
              Settings:PhoneNumber = 555
              Settings:UserAgent = Apple-iPhone/1
              Settings:MobileOperator = Lab
          Provision:Policies
            Provision:Policy
              Provision:PolicyType = MS-EAS-Provisioning-WBXML
        """)


def test_provision_acknowledgement_puts_policy_key_before_status() -> None:
    assert outline(provision.build_acknowledge("14.0", "1307199584")) == expect("""
        Provision:Provision
          Provision:Policies
            Provision:Policy
              Provision:PolicyType = MS-EAS-Provisioning-WBXML
              Provision:PolicyKey = 1307199584
              Provision:Status = 1
        """)


def test_remote_wipe_acknowledgement() -> None:
    assert outline(provision.build_wipe_acknowledge()) == expect("""
        Provision:Provision
          Provision:RemoteWipe
            Provision:Status = 1
        """)
    assert outline(provision.build_wipe_acknowledge(2, account_only=True)).splitlines()[1:] == [
        "  Provision:AccountOnlyRemoteWipe", "    Provision:Status = 2"]


def test_folder_commands() -> None:
    # WBXML 1.3 header, SWITCH_PAGE 7 (FolderHierarchy), FolderSync+content, SyncKey+content, STR_I "0", END, END
    assert encode(folders.build_folder_sync("0")) == bytes.fromhex("03016a00" "0007" "56" "52" "033000" "01" "01")
    assert outline(folders.build_folder_create("3", "0", "Projekte", 12)) == expect("""
        FolderHierarchy:FolderCreate
          FolderHierarchy:SyncKey = 3
          FolderHierarchy:ParentId = 0
          FolderHierarchy:DisplayName = Projekte
          FolderHierarchy:Type = 12
        """)
    assert outline(folders.build_folder_delete("4", "7")) == expect("""
        FolderHierarchy:FolderDelete
          FolderHierarchy:SyncKey = 4
          FolderHierarchy:ServerId = 7
        """)


def test_sync_2_5_leads_with_class_and_uses_truncation() -> None:
    request = sync.SyncCollection("5", "42", item_class="Email", get_changes=True, window_size=25,
                                  options=SyncOptions(filter_type=3, truncation=4, conflict=1))
    assert outline(sync.build_sync("2.5", [request])) == expect("""
        AirSync:Sync
          AirSync:Collections
            AirSync:Collection
              AirSync:Class = Email
              AirSync:SyncKey = 42
              AirSync:CollectionId = 5
              AirSync:GetChanges
              AirSync:WindowSize = 25
              AirSync:Options
                AirSync:FilterType = 3
                AirSync:Truncation = 4
                AirSync:Conflict = 1
        """)


def test_sync_14_1_has_no_class_and_asks_for_a_body_preference() -> None:
    request = sync.SyncCollection("5", "42", item_class="Email", deletes_as_moves=True, get_changes=True,
                                  window_size=50, options=SyncOptions(filter_type=3, body_type=2,
                                                                      truncation_size=5120))
    assert outline(sync.build_sync("14.1", [request])) == expect("""
        AirSync:Sync
          AirSync:Collections
            AirSync:Collection
              AirSync:SyncKey = 42
              AirSync:CollectionId = 5
              AirSync:DeletesAsMoves = 1
              AirSync:GetChanges
              AirSync:WindowSize = 50
              AirSync:Options
                AirSync:FilterType = 3
                AirSyncBase:BodyPreference
                  AirSyncBase:Type = 2
                  AirSyncBase:TruncationSize = 5120
        """)


def test_sync_client_commands_come_last_with_client_ids() -> None:
    commands = [Add("c1", [el("Contacts:FirstName", "Ann")]), Change("9:1", [el("Contacts:LastName", "Lee")]),
                Delete("9:2"), Fetch("9:3")]
    request = sync.SyncCollection("9", "7", get_changes=False, commands=commands)
    assert outline(sync.build_sync("12.1", [request])) == expect("""
        AirSync:Sync
          AirSync:Collections
            AirSync:Collection
              AirSync:SyncKey = 7
              AirSync:CollectionId = 9
              AirSync:GetChanges = 0
              AirSync:Commands
                AirSync:Add
                  AirSync:ClientId = c1
                  AirSync:ApplicationData
                    Contacts:FirstName = Ann
                AirSync:Change
                  AirSync:ServerId = 9:1
                  AirSync:ApplicationData
                    Contacts:LastName = Lee
                AirSync:Delete
                  AirSync:ServerId = 9:2
                AirSync:Fetch
                  AirSync:ServerId = 9:3
        """)


def test_sync_options_refuse_the_other_versions_body_limit() -> None:
    with pytest.raises(ValueError, match="only in protocol 2.5"):
        SyncOptions(truncation=4).element("12.1")
    with pytest.raises(ValueError, match="12.0 or later"):
        SyncOptions(body_type=1).element("2.5")


def test_get_item_estimate_moves_class_and_filter_into_options_from_14_0() -> None:
    collection = estimate.EstimateCollection("5", "42", item_class="Email", filter_type=3)
    assert outline(estimate.build_get_item_estimate("12.1", [collection])) == expect("""
        GetItemEstimate:GetItemEstimate
          GetItemEstimate:Collections
            GetItemEstimate:Collection
              GetItemEstimate:Class = Email
              AirSync:SyncKey = 42
              GetItemEstimate:CollectionId = 5
              AirSync:FilterType = 3
        """)
    assert outline(estimate.build_get_item_estimate("14.1", [collection])) == expect("""
        GetItemEstimate:GetItemEstimate
          GetItemEstimate:Collections
            GetItemEstimate:Collection
              AirSync:SyncKey = 42
              GetItemEstimate:CollectionId = 5
              AirSync:Options
                AirSync:FilterType = 3
                AirSync:Class = Email
        """)


def test_ping_lists_heartbeat_then_folders_with_id_before_class() -> None:
    assert outline(ping.build_ping(480, [("1", "Email"), ("3", "Calendar")])) == expect("""
        Ping:Ping
          Ping:HeartbeatInterval = 480
          Ping:Folders
            Ping:Folder
              Ping:Id = 1
              Ping:Class = Email
            Ping:Folder
              Ping:Id = 3
              Ping:Class = Calendar
        """)


def test_item_operations_fetch_of_an_item_and_of_an_attachment() -> None:
    body = items.build_item_operations([
        FetchRequest(collection_id="1", server_id="1:5", body_type=4, mime_support=2),
        FetchRequest(file_reference="1:5:att0", range="0-1023")])
    assert outline(body) == expect("""
        ItemOperations:ItemOperations
          ItemOperations:Fetch
            ItemOperations:Store = Mailbox
            AirSync:CollectionId = 1
            AirSync:ServerId = 1:5
            ItemOperations:Options
              AirSync:MIMESupport = 2
              AirSyncBase:BodyPreference
                AirSyncBase:Type = 4
          ItemOperations:Fetch
            ItemOperations:Store = Mailbox
            ItemOperations:Options
              ItemOperations:Range = 0-1023
            AirSyncBase:FileReference = 1:5:att0
        """)


def test_move_items_and_meeting_response() -> None:
    assert outline(items.build_move_items([MoveRequest("1:5", "1", "6")])) == expect("""
        Move:MoveItems
          Move:Move
            Move:SrcMsgId = 1:5
            Move:SrcFldId = 1
            Move:DstFldId = 6
        """)
    assert outline(items.build_meeting_response(1, collection_id="1", request_id="1:7")) == expect("""
        MeetingResponse:MeetingResponse
          MeetingResponse:Request
            MeetingResponse:UserResponse = 1
            MeetingResponse:CollectionId = 1
            MeetingResponse:RequestId = 1:7
        """)


def test_send_mail_carries_mime_as_opaque_bytes() -> None:
    body = mail.build_send_mail("c0ffee", b"Subject: hi\r\n\r\nbody")
    assert outline(body) == expect("""
        ComposeMail:SendMail
          ComposeMail:ClientId = c0ffee
          ComposeMail:SaveInSentItems
          ComposeMail:Mime = b'Subject: hi\\r\\n\\r\\nbody'
        """)
    wire = encode(body)
    assert b"\x50\xc3\x13Subject: hi\r\n\r\nbody\x01" in wire, "Mime must travel as OPAQUE (0xC3), 19 bytes"
    assert outline(decode(wire)) == outline(body)


def test_settings_device_information_and_user_information() -> None:
    info = DeviceInformation(model="WM6", os="Windows CE 5.2", enable_outbound_sms=False)
    body = settings.build_settings(settings.device_information(info, "MSFT-PPC/5.2", "12.1"),
                                   settings.user_information_get())
    assert outline(body) == expect("""
        Settings:Settings
          Settings:DeviceInformation
            Settings:Set
              Settings:Model = WM6
              Settings:OS = Windows CE 5.2
              Settings:UserAgent = MSFT-PPC/5.2
          Settings:UserInformation
            Settings:Get
        """)


def test_search_gal_and_mailbox() -> None:
    assert outline(search.build_search_gal("ali", "0-9")) == expect("""
        Search:Search
          Search:Store
            Search:Name = GAL
            Search:Query = ali
            Search:Options
              Search:Range = 0-9
        """)
    body = search.build_search_mailbox("invoice", collection_id="1", deep_traversal=True, rebuild_results=True,
                                       body_type=1, truncation_size=200)
    assert outline(body) == expect("""
        Search:Search
          Search:Store
            Search:Name = Mailbox
            Search:Query
              Search:And
                AirSync:Class = Email
                AirSync:CollectionId = 1
                Search:FreeText = invoice
            Search:Options
              Search:RebuildResults
              Search:DeepTraversal
              Search:Range = 0-9
              AirSyncBase:BodyPreference
                AirSyncBase:Type = 1
                AirSyncBase:TruncationSize = 200
        """)


def test_resolve_recipients() -> None:
    body = search.build_resolve_recipients(["alice", "bob@contoso.com"], certificate_retrieval=1,
                                           max_ambiguous_recipients=5)
    assert outline(body) == expect("""
        ResolveRecipients:ResolveRecipients
          ResolveRecipients:To = alice
          ResolveRecipients:To = bob@contoso.com
          ResolveRecipients:Options
            ResolveRecipients:CertificateRetrieval = 1
            ResolveRecipients:MaxAmbiguousRecipients = 5
        """)
