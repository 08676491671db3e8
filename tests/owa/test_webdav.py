"""/exchange over WebDAV in-process: what a WebDAV client (OWA, MASSYNC) sees of a mailbox.

Requests go through the whole host pipeline with Basic authentication; the
mailbox store is the real SQLite store in the test's data directory.
"""
from __future__ import annotations

import base64
import socket
import threading
import time
from importlib import metadata
from urllib.parse import quote

import pytest
from lxml import etree

from host.plugins import ENTRY_POINT_GROUP, make_plugin_manager
from host.regfile import RegType
from plugins.owa import davex, storeplugin
from plugins.owa.webdav import subscriptions
from plugins.owa.mailbox import FolderType, Quotas
from plugins.owa.mailboxes import ensure_mailbox
from plugins.smtp import plugin as smtp_plugin

DWORD, SZ, MULTI = RegType.REG_DWORD, RegType.REG_SZ, RegType.REG_MULTI_SZ
EXCHANGE = "/LM/W3SVC/1/ROOT/Exchange"
ALICE, BOB = "CONTOSO\\alice", "CONTOSO\\bob"
CN = "http://schemas.microsoft.com/mapi/proptag/x67a40014"
NS = {"a": "DAV:", "d": "urn:schemas:httpmail:", "h": "http://schemas.microsoft.com/repl/",
      "f": "http://schemas.microsoft.com/exchange/", "n": "http://schemas.microsoft.com/Exchange/",
      "g": "http://schemas.microsoft.com/mapi/proptag/"}


def auth(user: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:P@ssw0rd".encode()).decode()}


def mime(subject: str, to: str = "alice@contoso.com", body: str = "Hello.") -> bytes:
    return (f"From: Bob Kelly <bob@contoso.com>\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Date: Mon, 02 Jun 2003 10:00:00 +0200\r\n\r\n{body}\r\n").encode()


def lab_pm():
    """The host's own plugins plus the mailbox server's, not whatever else is installed."""
    host = [ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.value.startswith("host.")]
    return make_plugin_manager(only=host, extra=[storeplugin, smtp_plugin, davex])


class Mailboxes:
    """An in-process host, its store, and WebDAV requests as one user."""

    def __init__(self, service, app) -> None:
        self.service, self.app = service, app
        app.lint = False  # WebTest's linter does not know WebDAV verbs
        self.store = service.mailstore
        self.alice = ensure_mailbox(service, service.directory.find(ALICE))

    def folder(self, folder_type: FolderType, mailbox: str | None = None):
        return self.store.default_folder(mailbox or self.alice, folder_type)

    def deliver(self, subject: str, **kwargs):
        return self.store.deliver(self.alice, mime(subject), **kwargs)

    def dav(self, method: str, path: str, body: bytes | str = b"", user: str = ALICE, status="*", **headers):
        # WebDAV clients send "Translate: f" (raw resources); without it a GET is a browser's OWA page.
        headers = {"Translate": "f", **{k.replace("_", "-"): v for k, v in headers.items()}}
        if isinstance(body, str):
            body = body.encode()
        if body and "Content-Type" not in headers:
            headers["Content-Type"] = "text/xml"
        return self.app.request(f"http://127.0.0.1:8080{path}", method=method, body=body,
                                headers={**auth(user), **headers}, status=status)

    def search(self, sql: str, path: str = "/exchange/alice/Inbox/", repl: str | None = None, **headers):
        repl_xml = "" if repl is None else f"<R:repl><R:collblob>{repl}</R:collblob></R:repl>"
        body = (f'<?xml version="1.0"?><D:searchrequest xmlns:D="DAV:" '
                f'xmlns:R="http://schemas.microsoft.com/repl/">{repl_xml}<D:sql>{sql}</D:sql></D:searchrequest>')
        return self.dav("SEARCH", path, body, **headers)


@pytest.fixture
def lab_host(lab):
    def make(**kwargs) -> Mailboxes:
        return Mailboxes(*lab(pm=lab_pm(), **kwargs))

    return make


@pytest.fixture
def box(lab_host) -> Mailboxes:
    return lab_host()


def responses(body: bytes) -> dict[str, etree._Element]:
    """href -> <a:response> of a multistatus."""
    tree = etree.fromstring(body)
    return {r.findtext("a:href", namespaces=NS): r for r in tree.findall("a:response", NS)}


def prop(response: etree._Element, name: str) -> str | None:
    return response.findtext(f"a:propstat/a:prop/{name}", namespaces=NS)


def item_href(box: Mailboxes, item) -> str:
    return next(href for href in responses(box.dav("PROPFIND", "/exchange/alice/Inbox/", Depth="1").body)
                if href.endswith(f"-{item.id}.EML"))


# --- PROPFIND, access, the vdir's domain ---------------------------------------------------------------


def test_propfind_depth_1_of_the_inbox_shows_a_delivered_message(box):
    item = box.deliver("Meeting notes")
    answer = box.dav("PROPFIND", "/exchange/alice/Inbox/", Depth="1")
    assert answer.status_int == 207
    listed = responses(answer.body)
    href = f"/exchange/alice/Inbox/Meeting%20notes-{item.id}.EML"
    assert set(listed) == {"/exchange/alice/Inbox/", href}
    assert prop(listed[href], "d:subject") == "Meeting notes"
    assert prop(listed[href], "d:read") == "0"
    assert prop(listed[href], "a:getcontenttype") == "message/rfc822"
    assert prop(listed["/exchange/alice/Inbox/"], "a:visiblecount") == "1"


def test_named_properties_and_the_mailbox_root_names_the_default_folders(box):
    body = ('<?xml version="1.0"?><a:propfind xmlns:a="DAV:" xmlns:d="urn:schemas:httpmail:"><a:prop>'
            '<d:inbox/><d:sentitems/><d:sendmsg/><d:nosuchthing/></a:prop></a:propfind>')
    answer = box.dav("PROPFIND", "/exchange/alice/", body, Depth="0")
    root = responses(answer.body)["/exchange/alice/"]
    assert prop(root, "d:inbox") == "/exchange/alice/Inbox/"
    assert prop(root, "d:sentitems") == "/exchange/alice/Sent%20Items/"
    assert prop(root, "d:sendmsg") == "/exchange/alice/%23%23DavMailSubmissionURI%23%23/"
    missing = [ps for ps in root.findall("a:propstat", NS) if "404" in ps.findtext("a:status", namespaces=NS)]
    assert missing and missing[0].find("a:prop/d:nosuchthing", NS) is not None


def test_bob_gets_403_on_alices_mailbox(box):
    box.deliver("Private")
    answer = box.dav("PROPFIND", "/exchange/alice/Inbox/", user=BOB, Depth="1")
    assert answer.status_int == 403
    assert b"Private" not in answer.body
    assert box.dav("PROPFIND", "/exchange/bob/Inbox/", user=BOB, Depth="0").status_int == 207


def test_the_mailbox_is_named_by_its_address_in_the_vdirs_domain_only(lab_host):
    box = lab_host(set_values=[(EXCHANGE, "Path", SZ, r"\\.\BackOfficeStorage\fabrikam.com\MBX")])
    assert box.dav("PROPFIND", "/exchange/alice/", Depth="0").status_int == 404
    box.service.directory.update_user(ALICE, proxy_addresses=["SMTP:alice@contoso.com", "smtp:ally@fabrikam.com"])
    assert box.dav("PROPFIND", "/exchange/alice/", Depth="0").status_int == 404
    answer = box.dav("PROPFIND", "/exchange/ally/Inbox/", Depth="0")
    assert answer.status_int == 207 and "/exchange/ally/Inbox/" in responses(answer.body)


def test_options_announces_webdav_and_exchanges_verbs(box):
    answer = box.dav("OPTIONS", "/exchange/alice/")
    assert answer.status_int == 200
    assert answer.headers["DAV"] == "1, 2" and answer.headers["MS-Author-Via"] == "DAV"
    assert {"SEARCH", "BPROPPATCH", "POLL", "PROPFIND"} <= {v.strip() for v in answer.headers["Allow"].split(",")}


# --- GET, PUT, DELETE, MOVE, COPY, MKCOL, PROPPATCH ---------------------------------------------------


def test_get_returns_the_mime_as_delivered(box):
    item = box.deliver("Report")
    answer = box.dav("GET", item_href(box, item))
    assert answer.status_int == 200 and answer.content_type == "message/rfc822"
    assert answer.body == mime("Report")
    head = box.dav("HEAD", item_href(box, item))
    assert head.headers["Content-Length"] == str(len(mime("Report"))) and head.body == b""
    assert box.dav("GET", f"/exchange/alice/Inbox/{item.id + 1000}.EML").status_int == 404


def test_put_stores_a_message_and_says_where(box):
    answer = box.dav("PUT", "/exchange/alice/Drafts/new.EML", mime("Draft one"), Content_Type="message/rfc822")
    assert answer.status_int == 201
    location = answer.headers["Location"]
    assert location.startswith("/exchange/alice/Drafts/Draft%20one-")
    assert box.dav("GET", location).body == mime("Draft one")
    assert box.dav("PUT", location, mime("Changed")).status_int == 405


def test_delete_removes_the_item_for_good(box):
    item = box.deliver("Junk")
    href = item_href(box, item)
    assert box.dav("DELETE", href).status_int == 204
    assert box.dav("GET", href).status_int == 404
    assert box.store.count_items(box.alice, box.folder(FolderType.DELETED_ITEMS).id) == 0


def test_move_and_copy_take_the_destination_folder(box):
    item = box.deliver("Keep me")
    href = item_href(box, item)
    copied = box.dav("COPY", href, Destination="http://127.0.0.1:8080/exchange/alice/Drafts/x.EML")
    assert copied.status_int in (201, 204) and copied.headers["Location"].startswith("/exchange/alice/Drafts/")
    moved = box.dav("MOVE", href, Destination="/exchange/alice/Deleted%20Items/")
    assert moved.status_int in (201, 204)
    assert box.dav("GET", href).status_int == 404
    assert box.dav("GET", moved.headers["Location"]).body == mime("Keep me")
    assert box.dav("MOVE", copied.headers["Location"], Destination="http://elsewhere/exchange/alice/Inbox/x.EML")\
        .status_int == 502


def test_mkcol_proppatch_and_folder_rename(box):
    assert box.dav("MKCOL", "/exchange/alice/Inbox/Projects/").status_int == 201
    assert box.dav("MKCOL", "/exchange/alice/Inbox/Projects/").status_int == 405
    renamed = box.dav("MOVE", "/exchange/alice/Inbox/Projects/", Destination="/exchange/alice/Archive/")
    assert renamed.status_int in (201, 204)
    assert box.store.folder_by_path(box.alice, "Archive").display_name == "Archive"
    item = box.deliver("Flag me")
    body = ('<?xml version="1.0"?><a:propertyupdate xmlns:a="DAV:" xmlns:d="urn:schemas:httpmail:" '
            'xmlns:g="http://schemas.microsoft.com/mapi/proptag/"><a:set><a:prop><d:read>1</d:read>'
            '<g:x10900003>2</g:x10900003></a:prop></a:set></a:propertyupdate>')
    assert box.dav("PROPPATCH", item_href(box, item), body).status_int == 207
    stored = box.store.get_item(box.alice, item.id)
    assert stored.read and stored.flag_status == 2
    refused = box.dav("PROPPATCH", item_href(box, stored), body.replace("d:read>1", "d:read>maybe"))
    assert b"409" in refused.body and box.store.get_item(box.alice, item.id).flag_status == 2


def test_a_folder_with_umlauts_works_through_percent_encoded_utf8(box):
    folder = "/exchange/alice/Inbox/" + quote("Geschäftlich") + "/"
    assert box.dav("MKCOL", folder).status_int == 201
    assert box.store.folder_by_path(box.alice, "Inbox/Geschäftlich")
    assert box.dav("PUT", folder + "a.EML", mime("Angebot")).status_int == 201
    listed = responses(box.dav("PROPFIND", folder, Depth="1").body)
    assert folder in listed and prop(listed[folder], "a:displayname") == "Geschäftlich"
    assert any(prop(r, "d:subject") == "Angebot" for r in listed.values())


def test_urlscan_without_high_bit_characters_refuses_the_umlaut_folder(lab_host):
    urlscan = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\UrlScan"
    verbs = ["GET", "HEAD", "OPTIONS", "PROPFIND", "MKCOL"]
    values = [("/LM/W3SVC/Filters", "FilterLoadOrder", SZ, "UrlScan"),
              ("/LM/W3SVC/Filters/UrlScan", "FilterPath", SZ, r"C:\WINDOWS\system32\inetsrv\urlscan\urlscan.dll"),
              (urlscan, "AllowVerbs", MULTI, verbs)]
    strict = lab_host(set_values=values)
    strict.store.create_folder(strict.alice, strict.folder(FolderType.INBOX).id, "Geschäftlich")
    path = "/exchange/alice/Inbox/" + quote("Geschäftlich") + "/"
    assert strict.dav("PROPFIND", path, Depth="0").status_int == 404  # URLScan: high bit character
    exchange_template = lab_host(set_values=[*values, (urlscan, "AllowHighBitCharacters", DWORD, 1)])
    exchange_template.store.create_folder(exchange_template.alice, exchange_template.folder(FolderType.INBOX).id,
                                          "Geschäftlich")
    assert exchange_template.dav("PROPFIND", path, Depth="0").status_int == 207


# --- SEARCH ------------------------------------------------------------------------------------------------


def subjects(body: bytes) -> list[str]:
    return [prop(r, "d:subject") for r in responses(body).values()]


def test_search_changed_since_returns_exactly_new_and_changed_items(box):
    kept, changed, deleted = (box.deliver(s) for s in ("Kept", "Changed", "Deleted"))
    mark = box.store.get_mailbox(box.alice).change_number
    box.store.update_item(box.alice, changed.id, read=True)
    box.store.delete_items(box.alice, [deleted.id], hard=True)
    box.deliver("New")
    answer = box.search(f'SELECT "urn:schemas:httpmail:subject", "{CN}" FROM SCOPE(\'shallow traversal of '
                        f'"/exchange/alice/Inbox"\') WHERE "DAV:isfolder" = false AND "{CN}" > {mark}')
    assert answer.status_int == 207
    assert sorted(subjects(answer.body)) == ["Changed", "New"]


def test_replication_manifest_reports_new_changed_and_deleted_items(box):
    first, second = box.deliver("First"), box.deliver("Second")
    sql = 'SELECT "urn:schemas:httpmail:subject" FROM SCOPE(\'shallow traversal of ""\')'
    initial = etree.fromstring(box.search(sql, repl="").body)
    collblob = initial.findtext("h:repl/h:collblob", namespaces=NS)
    assert {r.findtext("h:changetype", namespaces=NS) for r in initial.findall("a:response", NS)} == {"new"}
    assert len(initial.findall("a:response", NS)) == 2
    box.store.update_item(box.alice, first.id, read=True)
    box.store.delete_items(box.alice, [second.id], hard=True)
    third = box.deliver("Third")
    again = etree.fromstring(box.search(sql, repl=collblob).body)
    changes = {(r.findtext("a:href", namespaces=NS).rsplit("/", 1)[-1], r.findtext("h:changetype", namespaces=NS))
               for r in again.findall("a:response", NS)}
    assert changes == {(f"First-{first.id}.EML", "change"), (f"{second.id}.EML", "delete"),
                       (f"Third-{third.id}.EML", "new")}
    quiet = etree.fromstring(box.search(sql, repl=again.findtext("h:repl/h:collblob", namespaces=NS)).body)
    assert quiet.findall("a:response", NS) == []
    assert box.search(sql, path="/exchange/alice/Drafts/", repl=collblob).status_int == 475


def test_search_pages_with_range_rows_and_orders(box):
    for n in range(5):
        box.deliver(f"Message {n}")
    sql = ('SELECT "urn:schemas:httpmail:subject" FROM SCOPE(\'shallow traversal of "/exchange/alice/Inbox"\') '
           'WHERE "DAV:isfolder" = false ORDER BY "urn:schemas:httpmail:subject" ASC')
    answer = box.search(sql, Range="rows=1-2")
    assert subjects(answer.body) == ["Message 1", "Message 2"]
    assert answer.headers["Content-Range"] == "rows 1-2; total=5"
    assert box.search(sql, Range="rows=9-10").status_int == 416


def test_items_pending_a_virus_scan_are_left_out_of_listings(box):
    box.deliver("Clean")
    box.deliver("Pending", scanned=False)
    sql = 'SELECT "urn:schemas:httpmail:subject" FROM SCOPE(\'shallow traversal of ""\')'
    assert subjects(box.search(sql).body) == ["Clean"]
    assert "Pending" not in subjects(box.dav("PROPFIND", "/exchange/alice/Inbox/", Depth="1").body)
    box.store.mark_scanned(box.alice)
    assert sorted(subjects(box.search(sql).body)) == ["Clean", "Pending"]


def test_hierarchical_traversal_lists_folders_with_change_numbers(box):
    box.store.create_folder(box.alice, box.folder(FolderType.INBOX).id, "Projects")
    answer = box.search(f'SELECT "DAV:displayname", "{CN}", "http://schemas.microsoft.com/exchange/outlookfolderclass"'
                        ' FROM SCOPE(\'hierarchical traversal of "/exchange/alice/"\')', path="/exchange/alice/")
    listed = responses(answer.body)
    assert "/exchange/alice/Inbox/Projects/" in listed and "/exchange/alice/Calendar/" in listed
    calendar = listed["/exchange/alice/Calendar/"]
    assert prop(calendar, "f:outlookfolderclass") == "IPF.Appointment"
    assert prop(calendar, "a:displayname") == "Calendar" and int(prop(calendar, "g:x67a40014")) > 0
    assert box.search('SELECT "DAV:href" FROM SCOPE(\'deep traversal of ""\')').status_int == 403


# --- batch methods -----------------------------------------------------------------------------------------


def batch(root: str, *names: str, extra: str = "") -> str:
    targets = "".join(f"<a:href>{n}</a:href>" for n in names)
    return (f'<?xml version="1.0"?><a:{root} xmlns:a="DAV:" xmlns:d="urn:schemas:httpmail:">'
            f"<a:target>{targets}</a:target>{extra}</a:{root}>")


def test_bpropfind_answers_each_target_as_propfind_would(box):
    one, two = box.deliver("One"), box.deliver("Two")
    names = [f"One-{one.id}.EML", f"/exchange/alice/-FlatUrlSpace-/{box.folder(FolderType.INBOX).id}/{two.id}.EML",
             "Nothing-999999.EML"]
    asked = "<a:prop><d:subject/><d:nosuchproperty/></a:prop>"
    answer = box.dav("BPROPFIND", "/exchange/alice/Inbox/", batch("propfind", *names, extra=asked))
    assert answer.status_int == 207
    found = {}
    for response in etree.fromstring(answer.body).findall("a:response", NS):
        subject = response.find("a:propstat/a:prop/d:subject", {**NS, "d": "urn:schemas:httpmail:"})
        found[response.findtext("a:href", namespaces=NS)] = (
            subject.text if subject is not None else response.findtext("a:status", namespaces=NS))
    assert sorted(v for v in found.values()) == ["HTTP/1.1 404 Not Found", "One", "Two"]
    missing = box.dav("BPROPFIND", "/exchange/alice/Inbox/", batch("propfind", names[0], extra=asked)).body
    assert b"HTTP/1.1 404 Not Found" in missing  # the unknown property, in its own propstat


def test_bproppatch_bcopy_bmove_and_bdelete_act_on_every_target(box):
    one, two = box.deliver("One"), box.deliver("Two")
    names = [f"One-{one.id}.EML", f"Two-{two.id}.EML"]
    read = "<a:set><a:prop><d:read>1</d:read></a:prop></a:set>"
    patched = box.dav("BPROPPATCH", "/exchange/alice/Inbox/", batch("propertyupdate", *names, extra=read))
    assert patched.status_int == 207 and all(box.store.get_item(box.alice, i.id).read for i in (one, two))
    copied = box.dav("BCOPY", "/exchange/alice/Inbox/", batch("copy", *names),
                     Destination="/exchange/alice/Drafts/")
    assert copied.status_int == 207 and box.store.count_items(box.alice, box.folder(FolderType.DRAFTS).id) == 2
    moved = box.dav("BMOVE", "/exchange/alice/Inbox/", batch("move", names[0], "Nothing-999999.EML"),
                    Destination="/exchange/alice/Deleted%20Items/")
    statuses = {r.findtext("a:href", namespaces=NS): r.findtext("a:status", namespaces=NS)
                for r in etree.fromstring(moved.body).findall("a:response", NS)}
    assert statuses == {names[0]: "HTTP/1.1 201 Created", "Nothing-999999.EML": "HTTP/1.1 404 Not Found"}
    deleted = box.dav("BDELETE", "/exchange/alice/Inbox/", batch("delete", names[1]))
    assert deleted.status_int == 207 and box.store.count_items(box.alice, box.folder(FolderType.INBOX).id) == 0
    assert box.store.count_items(box.alice, box.folder(FolderType.DELETED_ITEMS).id) == 1


# --- hidden folders, sync state, quota ---------------------------------------------------------------------


STATE = "/exchange/alice/NON_IPM_SUBTREE/Microsoft-Server-ActiveSync/PocketPC/"


def test_sync_state_blobs_round_trip_through_hidden_folders(box):
    assert box.dav("PROPFIND", "/exchange/alice/", Depth="1").body.count(b"NON_IPM_SUBTREE") == 0
    assert box.dav("MKCOL", STATE).status_int == 201
    assert box.dav("MKCOL", STATE + "DEV1/").status_int == 201
    blob = bytes(range(256)) * 4
    assert box.dav("PUT", STATE + "DEV1/FolderSyncState", blob).status_int == 201
    assert box.dav("GET", STATE + "DEV1/FolderSyncState").body == blob
    assert box.store.get_state(box.alice, "Microsoft-Server-ActiveSync/PocketPC/DEV1", "FolderSyncState") == blob
    assert box.dav("PUT", STATE + "DEV1/FolderSyncState", b"v2").status_int == 204
    assert box.dav("GET", STATE + "DEV1/FolderSyncState").body == b"v2"
    listed = responses(box.dav("PROPFIND", STATE + "DEV1/", Depth="1").body)
    assert STATE + "DEV1/FolderSyncState" in listed
    assert box.dav("DELETE", STATE + "DEV1/FolderSyncState").status_int == 204
    assert box.dav("GET", STATE + "DEV1/FolderSyncState").status_int == 404


def test_state_counts_toward_quota_and_a_full_mailbox_answers_507(box):
    box.dav("MKCOL", STATE)
    before = box.store.mailbox_size(box.alice)
    assert box.dav("PUT", STATE + "State", b"x" * 20_000).status_int == 201
    assert box.store.mailbox_size(box.alice) >= before + 20_000
    box.store.set_mailbox_quotas(box.alice, Quotas(prohibit_send_receive_kb=box.store.mailbox_size(box.alice) // 1024 + 10))
    assert box.dav("PUT", STATE + "State", b"y" * 60_000).status_int == 507
    assert box.dav("GET", STATE + "State").body == b"x" * 20_000
    assert box.dav("PUT", "/exchange/alice/Drafts/big.EML", mime("Big", body="z" * 60_000)).status_int == 507


# --- submission --------------------------------------------------------------------------------------------------


def test_put_to_the_submission_uri_sends_the_message(box):
    uri = "/exchange/alice/%23%23DavMailSubmissionURI%23%23/"
    answer = box.dav("PUT", uri, mime("Lunch?", to="bob@contoso.com"), Content_Type="message/rfc822")
    assert answer.status_int == 201
    bob = box.store.get_mailbox(BOB)
    assert [i.subject for i in box.store.list_items(BOB, box.folder(FolderType.INBOX, bob.id).id)] == ["Lunch?"]
    assert [i.subject for i in box.store.list_items(box.alice, box.folder(FolderType.SENT_ITEMS).id)] == ["Lunch?"]


def test_moving_a_draft_to_the_submission_uri_sends_it(box):
    put = box.dav("PUT", "/exchange/alice/Drafts/d.EML", mime("Draft", to="bob@contoso.com"))
    moved = box.dav("MOVE", put.headers["Location"], Destination="/exchange/alice/%23%23DavMailSubmissionURI%23%23/",
                    Saveinsent="f")
    assert moved.status_int in (201, 204)
    assert box.store.count_items(box.alice, box.folder(FolderType.DRAFTS).id) == 0
    assert box.store.count_items(box.alice, box.folder(FolderType.SENT_ITEMS).id) == 0
    assert box.store.count_items(BOB, box.folder(FolderType.INBOX, BOB).id) == 1


# --- subscriptions -----------------------------------------------------------------------------------------------


def test_poll_waits_for_a_delivery_and_wakes_within_a_second(box):
    subscribed = box.dav("SUBSCRIBE", "/exchange/alice/Inbox/", Notification_type="update/newmember",
                         Subscription_lifetime="600")
    assert subscribed.status_int == 200
    subscription = subscribed.headers["Subscription-id"]
    quiet = box.dav("POLL", "/exchange/alice/Inbox/", Subscription_id=subscription)
    assert quiet.status_int == 207 and b"204 No Content" in quiet.body
    delivery = threading.Timer(0.3, box.deliver, args=("Wake up",))
    delivery.start()
    began = time.monotonic()
    try:
        woke = box.dav("POLL", "/exchange/alice/Inbox/", Subscription_id=subscription, X_Lab_Wait="20")
    finally:
        delivery.join(5)
    assert time.monotonic() - began < 1.5
    tree = etree.fromstring(woke.body)
    assert tree.findtext("a:response/a:status", namespaces=NS) == "HTTP/1.1 200 OK"
    assert tree.findtext("a:response/n:subscriptionID/n:li", namespaces=NS) == subscription
    assert box.dav("UNSUBSCRIBE", "/exchange/alice/Inbox/", Subscription_id=subscription).status_int == 200
    assert box.dav("POLL", "/exchange/alice/Inbox/", Subscription_id=subscription).status_int == 412


def test_a_call_back_subscription_gets_a_notify_datagram_then_polls(box):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        udp.settimeout(5)
        call_back = f"httpu://127.0.0.1:{udp.getsockname()[1]}/lab"
        subscribed = box.dav("SUBSCRIBE", "/exchange/alice/Inbox/", Notification_type="update", Call_Back=call_back)
        assert subscribed.status_int == 200
        subscription = subscribed.headers["Subscription-id"]
        box.deliver("Wake up")
        datagram, _ = udp.recvfrom(2048)
    request_line, *headers = datagram.decode("ascii").split("\r\n")
    assert request_line == f"NOTIFY {call_back} HTTP/1.1"
    assert f"Subscription-id: {subscription}" in headers
    polled = box.dav("POLL", "/exchange/alice/Inbox/", Subscription_id=subscription)
    assert b"HTTP/1.1 200 OK" in polled.body


def test_an_unacknowledged_notify_is_sent_again_until_a_poll_names_the_subscription(box, monkeypatch):
    """Exchange SDK, "NOTIFY Method": UDP may be lost, so the store repeats it until acknowledged."""
    monkeypatch.setattr(subscriptions, "NOTIFY_RESEND_S", 0.2)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        udp.settimeout(5)
        call_back = f"httpu://127.0.0.1:{udp.getsockname()[1]}/lab"
        subscription = box.dav("SUBSCRIBE", "/exchange/alice/Inbox/", Notification_type="update",
                               Call_Back=call_back).headers["Subscription-id"]
        box.deliver("Wake up")
        first, _ = udp.recvfrom(2048)
        again, _ = udp.recvfrom(2048)  # "lost": nobody POLLed, so it comes again
        assert again == first and f"Subscription-id: {subscription}".encode() in again
        assert b"HTTP/1.1 200 OK" in box.dav("POLL", "/exchange/alice/Inbox/", Subscription_id=subscription).body
        udp.settimeout(0.3)
        late = []
        for _ in range(4):  # a datagram already on its way may still arrive; then nothing more
            try:
                late.append(udp.recvfrom(2048)[0])
            except socket.timeout:
                break
        assert len(late) <= 1


@pytest.mark.parametrize("call_back", ["httpu://192.0.2.7:5000/", "http://127.0.0.1:5000/", "httpu://127.0.0.1/"])
def test_a_call_back_must_be_httpu_to_the_subscriber_itself(box, call_back):
    answer = box.dav("SUBSCRIBE", "/exchange/alice/Inbox/", Notification_type="update", Call_Back=call_back)
    assert answer.status_int == 400 and b"Call-Back" in answer.body


def test_a_newmember_subscription_ignores_changes_to_existing_items(box):
    item = box.deliver("Old")
    subscription = box.dav("SUBSCRIBE", "/exchange/alice/Inbox/",
                           Notification_type="update/newmember").headers["Subscription-id"]
    timer = threading.Timer(0.2, box.store.update_item, args=(box.alice, item.id), kwargs={"read": True})
    timer.start()
    try:
        answer = box.dav("POLL", "/exchange/alice/Inbox/", Subscription_id=subscription, X_Lab_Wait="0.8")
    finally:
        timer.join(5)
    assert b"204 No Content" in answer.body


def test_a_locked_item_is_not_deleted_without_its_lock_token(box):
    item = box.deliver("Locked")
    lockinfo = ('<?xml version="1.0"?><a:lockinfo xmlns:a="DAV:"><a:lockscope><a:exclusive/></a:lockscope>'
                "<a:locktype><a:write/></a:locktype><a:owner>device</a:owner></a:lockinfo>")
    token = box.dav("LOCK", item_href(box, item), lockinfo, Timeout="Second-60").headers["Lock-Token"]
    short = f"/exchange/alice/Inbox/{item.id}.EML"  # the same item by its id alone
    assert box.dav("DELETE", short).status_int == 423
    assert box.dav("DELETE", short, If=f"({token})").status_int == 204


def test_anonymous_requests_are_challenged_with_401_3(lab_host):
    box = lab_host(set_values=[(EXCHANGE, "AuthFlags", DWORD, 1 | 2)])
    answer = box.app.request("/exchange/alice/Inbox/", method="PROPFIND", headers={"Depth": "0"}, status="*")
    assert answer.status_int == 401 and b"401.3" in answer.body
    assert answer.headers["WWW-Authenticate"].startswith("Basic")
