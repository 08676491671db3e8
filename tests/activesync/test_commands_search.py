"""Search (GAL and Mailbox), ResolveRecipients and Find against the directory and the mailbox."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from plugins.activesync.items.values import eas_datetime
from plugins.owa.mailbox import FolderType, NewItem
from plugins.owa.mailboxes import ensure_mailbox

from .conftest import PERSONA_VERSIONS, w3c_rows
from .easclient import el
from .test_commands_mail import _compose, _outgoing, _ready

SE, GAL, RR, FI = "{Search}", "{Gal}", "{ResolveRecipients}", "{Find}"


def _gal_search(query: str, range_: str | None = "0-99", picture: bool = False):
    options = el("Search:Options")
    if range_ is not None:
        options.append(el("Search:Range", range_))
    if picture:
        options.append(el("Search:Picture", None, el("Search:MaxPictures", "1")))
    return el("Search:Search", None, el("Search:Store", None, el("Search:Name", "GAL"), el("Search:Query", query),
                                        options))


def _mailbox_search(*terms, range_: str = "0-9", options=()):
    return el("Search:Search", None, el("Search:Store", None, el("Search:Name", "Mailbox"),
                                        el("Search:Query", None, el("Search:And", None, *terms)),
                                        el("Search:Options", None, el("Search:Range", range_), *options)))


@pytest.mark.parametrize("persona", list(PERSONA_VERSIONS))
def test_gal_search_finds_bob_in_every_persona(real_eas, persona):
    lab = real_eas(persona)  # a real listener: the 2003 persona reaches the mailbox over /exchange
    device, _ = _ready(lab, PERSONA_VERSIONS[persona])
    answer = device.post("Search", _gal_search("bo"))
    assert answer.text("{Search}Status") == "1"
    store = answer.find("{Search}Response/{Search}Store")
    assert store.findtext(f"{SE}Status") == "1" and store.findtext(f"{SE}Total") == "1"
    assert store.findtext(f"{SE}Range") == "0-0"
    properties = store.find(f"{SE}Result/{SE}Properties")
    assert properties.findtext(f"{GAL}DisplayName") == "Bob Kelly"
    assert properties.findtext(f"{GAL}EmailAddress") == "bob@contoso.com"
    assert properties.findtext(f"{GAL}Alias") == "bob"
    assert (properties.findtext(f"{GAL}FirstName"), properties.findtext(f"{GAL}LastName")) == ("Bob", "Kelly")
    assert properties.find(f"{GAL}Picture") is None
    assert "LdapC1_" in w3c_rows(lab.service)[-1]["cs-uri-query"]


def test_gal_picture_is_status_173_and_ranges_page(eas_lab):
    lab = eas_lab("Exchange 2016")
    for n in range(5):
        lab.service.directory.add_user(f"CONTOSO\\sales{n}", "P@ssw0rd", display_name=f"Sales Person {n}")
    device, _ = _ready(lab, "16.1")
    picture = device.post("Search", _gal_search("bob", picture=True))
    assert picture.find(".//{Gal}Picture/{Gal}Status").text == "173"
    page = device.post("Search", _gal_search("sales", "2-3")).find(".//{Search}Store")
    assert page.findtext(f"{SE}Total") == "5" and page.findtext(f"{SE}Range") == "2-3"
    assert [r.findtext(f".//{GAL}Alias") for r in page.findall(f"{SE}Result")] == ["sales2", "sales3"]
    too_far = device.post("Search", _gal_search("sales", "0-149")).find(".//{Search}Store")
    assert too_far.findtext(f"{SE}Status") == "12"
    none = device.post("Search", _gal_search("nobody-here")).find(".//{Search}Store")
    assert none.findtext(f"{SE}Status") == "1" and none.findtext(f"{SE}Total") == "0"
    assert none.find(f"{SE}Result") is not None and len(none.find(f"{SE}Result")) == 0


def test_mailbox_search_by_free_text_and_date_then_fetch_and_reply_by_long_id(eas_lab):
    lab = eas_lab("Exchange 2010 SP1")
    lab.deliver("Invoice 4711 overdue", body="Please pay invoice 4711.", days_ago=2)
    lab.deliver("Lunch", body="Pizza at noon?", days_ago=1)
    lab.deliver("Old invoice", body="invoice 12 from last year", days_ago=40)
    device, folders = _ready(lab, "14.1")
    inbox = device.folder_id(folders, 2)
    since = eas_datetime(datetime.now(timezone.utc) - timedelta(days=30))
    answer = device.post("Search", _mailbox_search(
        el("AirSync:Class", "Email"), el("AirSync:CollectionId", inbox), el("Search:FreeText", "invoice"),
        el("Search:GreaterThan", None, el("Email:DateReceived"), el("Search:Value", since))))
    store = answer.find(".//{Search}Store")
    assert store.findtext(f"{SE}Status") == "1" and store.findtext(f"{SE}Total") == "1"
    result = store.find(f"{SE}Result")
    assert [c.tag.split("}")[1] for c in result] == ["Class", "LongId", "CollectionId", "Properties"]
    assert result.findtext(f"{SE}Properties/{{Email}}Subject") == "Invoice 4711 overdue"
    long_id = result.findtext(f"{SE}LongId")

    fetched = device.post("ItemOperations", el("ItemOperations:ItemOperations", None, el(
        "ItemOperations:Fetch", None, el("ItemOperations:Store", "Mailbox"), el("Search:LongId", long_id))))
    fetch = fetched.find(".//{ItemOperations}Fetch")
    assert fetch.findtext("{ItemOperations}Status") == "1" and fetch.findtext("{Search}LongId") == long_id
    assert "invoice 4711" in fetch.findtext(".//{AirSyncBase}Data")

    reply = device.post("SmartReply", _compose("SmartReply", _outgoing("RE: Invoice 4711", body="Paid."),
                                               source=[el("ComposeMail:LongId", long_id)]))
    assert reply.body == b""
    bob = ensure_mailbox(lab.service, lab.service.directory.find("bob"))
    inbox_bob = lab.store.default_folder(bob, FolderType.INBOX).id
    sent = next(i for i in lab.store.list_items(bob, inbox_bob) if i.subject == "RE: Invoice 4711")
    assert b"Please pay invoice 4711." in lab.store.get_mime(bob, sent.id)


def test_mailbox_search_everywhere_and_its_statuses(eas_lab):
    lab = eas_lab("Exchange 2016")
    lab.store.deliver(lab.mailbox, b"Subject: needle in sent\r\nFrom: a@b.c\r\n\r\nhay",
                      folder_id=lab.folder(FolderType.SENT_ITEMS).id)
    lab.deliver("needle in inbox")
    device, folders = _ready(lab, "16.1")
    everywhere = device.post("Search", _mailbox_search(el("AirSync:Class", "Email"), el("Search:FreeText", "needle")))
    subjects = [r.findtext(".//{Email}Subject") for r in everywhere.findall(".//{Search}Result")]
    assert subjects == ["needle in inbox", "needle in sent"]
    unknown = device.post("Search", _mailbox_search(el("AirSync:CollectionId", "987654"), el("Search:FreeText", "x")))
    assert unknown.find(".//{Search}Store").findtext(f"{SE}Status") == "11"
    bad = device.post("Search", _mailbox_search(el("Search:FreeText", "x"), range_="9-1"))
    assert bad.find(".//{Search}Store").findtext(f"{SE}Status") == "2"
    library = el("Search:Search", None, el("Search:Store", None, el("Search:Name", "DocumentLibrary"),
                                           el("Search:Query", "x")))
    assert device.post("Search", library).find(".//{Search}Store").findtext(f"{SE}Status") == "5"


# -- ResolveRecipients ----------------------------------------------------------------------


def _resolve(*to, options=()):
    request = el("ResolveRecipients:ResolveRecipients", None, *(el("ResolveRecipients:To", t) for t in to))
    if options:
        request.append(el("ResolveRecipients:Options", None, *options))
    return request


def test_resolve_recipients_bob_a_contact_an_ambiguous_name_and_nobody(eas_lab):
    lab = eas_lab("Exchange 2016")
    lab.service.directory.add_user("CONTOSO\\bobby", "P@ssw0rd", display_name="Bobby Tables")
    contacts = lab.folder(FolderType.CONTACTS).id
    lab.store.add_item(lab.mailbox, contacts, NewItem(message_class="IPM.Contact", subject="Dora Diaz", properties={
        "first_name": "Dora", "last_name": "Diaz", "email1_address": "dora@fabrikam.com"}))
    device, _ = _ready(lab, "16.1")
    answer = device.post("ResolveRecipients", _resolve("bob@contoso.com", "dora", "bo", "zed@nowhere.example"))
    assert answer.text("{ResolveRecipients}Status") == "1"
    responses = {r.findtext(f"{RR}To"): r for r in answer.findall("{ResolveRecipients}Response")}
    bob = responses["bob@contoso.com"]
    assert [c.tag.split("}")[1] for c in bob][:3] == ["To", "Status", "RecipientCount"]
    assert bob.findtext(f"{RR}Status") == "1" and bob.findtext(f"{RR}RecipientCount") == "1"
    recipient = bob.find(f"{RR}Recipient")
    assert (recipient.findtext(f"{RR}Type"), recipient.findtext(f"{RR}DisplayName"),
            recipient.findtext(f"{RR}EmailAddress")) == ("1", "Bob Kelly", "bob@contoso.com")
    dora = responses["dora"]
    assert dora.findtext(f"{RR}Status") == "1"
    assert dora.findtext(f"{RR}Recipient/{RR}Type") == "2"
    assert dora.findtext(f"{RR}Recipient/{RR}EmailAddress") == "dora@fabrikam.com"
    ambiguous = responses["bo"]
    assert ambiguous.findtext(f"{RR}Status") == "2" and ambiguous.findtext(f"{RR}RecipientCount") == "2"
    assert responses["zed@nowhere.example"].findtext(f"{RR}Status") == "4"
    limited = device.post("ResolveRecipients", _resolve(
        "bo", options=[el("ResolveRecipients:MaxAmbiguousRecipients", "1")])).find("{ResolveRecipients}Response")
    assert limited.findtext(f"{RR}Status") == "3" and limited.findtext(f"{RR}RecipientCount") == "1"


def test_resolve_recipients_availability_and_certificates(eas_lab):
    lab = eas_lab("Exchange 2010 SP1")
    bob = ensure_mailbox(lab.service, lab.service.directory.find("bob"))
    start = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
    calendar = lab.store.default_folder(bob, FolderType.CALENDAR).id
    lab.store.add_item(bob, calendar, NewItem(message_class="IPM.Appointment", subject="Busy", properties={
        "start": (start + timedelta(hours=1)).isoformat(), "end": (start + timedelta(hours=2)).isoformat(),
        "busy_status": 2}))
    lab.store.add_item(bob, calendar, NewItem(message_class="IPM.Appointment", subject="Maybe", properties={
        "start": (start + timedelta(minutes=150)).isoformat(), "end": (start + timedelta(hours=3)).isoformat(),
        "busy_status": 1}))
    device, _ = _ready(lab, "14.1")
    answer = device.post("ResolveRecipients", _resolve("bob@contoso.com", options=[
        el("ResolveRecipients:CertificateRetrieval", "2"),
        el("ResolveRecipients:Availability", None, el("ResolveRecipients:StartTime", eas_datetime(start)),
           el("ResolveRecipients:EndTime", eas_datetime(start + timedelta(hours=4))))]))
    recipient = answer.find(".//{ResolveRecipients}Recipient")
    assert [c.tag.split("}")[1] for c in recipient] == ["Type", "DisplayName", "EmailAddress", "Availability",
                                                         "Certificates"]
    assert recipient.findtext(f"{RR}Availability/{RR}Status") == "1"
    assert recipient.findtext(f"{RR}Availability/{RR}MergedFreeBusy") == "00220100"
    assert recipient.findtext(f"{RR}Certificates/{RR}Status") == "7"
    assert recipient.findtext(f"{RR}Certificates/{RR}CertificateCount") == "0"
    backwards = device.post("ResolveRecipients", _resolve("bob", options=[el(
        "ResolveRecipients:Availability", None, el("ResolveRecipients:StartTime", eas_datetime(start)),
        el("ResolveRecipients:EndTime", eas_datetime(start - timedelta(hours=1))))]))
    assert backwards.text("{ResolveRecipients}Status") == "5"


def test_resolve_recipients_in_the_2003_persona(real_eas):
    lab = real_eas("Exchange 2003 SP2")
    device, _ = _ready(lab, "2.5")
    answer = device.post("ResolveRecipients", _resolve("Bob Kelly"))
    assert answer.find(".//{ResolveRecipients}Recipient").findtext(f"{RR}EmailAddress") == "bob@contoso.com"


# -- Find (16.1) ----------------------------------------------------------------------------


def _find(criterion):
    return el("Find:Find", None, el("Find:SearchId", "7B1D1B6C-0E2B-4A3F-9F57-9B1C0D4E2A11"),
              el("Find:ExecuteSearch", None, criterion))


def test_find_mailbox_and_gal(eas_lab):
    lab = eas_lab("Exchange 2016")
    lab.deliver("Quarterly report", body="numbers inside", html="<p>numbers inside</p>")
    device, folders = _ready(lab, "16.1")
    inbox = device.folder_id(folders, 2)
    mailbox = el("Find:MailBoxSearchCriterion", None,
                 el("Find:Query", None, el("AirSync:Class", "Email"), el("AirSync:CollectionId", inbox),
                    el("Find:FreeText", "quarterly")),
                 el("Find:Options", None, el("Find:Range", "0-9")))
    answer = device.post("Find", _find(mailbox))
    assert answer.text("{Find}Status") == "1"
    response = answer.find("{Find}Response")
    assert response.findtext("{ItemOperations}Store") == "Mailbox" and response.findtext(f"{FI}Status") == "1"
    result = response.find(f"{FI}Result")
    assert result.findtext("{AirSync}Class") == "Email" and result.findtext("{AirSync}CollectionId") == inbox
    properties = result.find(f"{FI}Properties")
    assert properties.findtext("{Email}Subject") == "Quarterly report"
    assert properties.findtext(f"{FI}Preview") == "numbers inside"
    assert properties.findtext(f"{FI}HasAttachments") == "0" and properties.findtext("{Email2}IsDraft") == "0"
    assert response.findtext(f"{FI}Total") == "1" and response.findtext(f"{FI}Range") == "0-0"

    people = el("Find:GalSearchCriterion", None, el("Find:Query", "kel"), el("Find:Options", None, el("Find:Range", "0-4")))
    gal = device.post("Find", _find(people)).find("{Find}Response")
    assert gal.findtext("{ItemOperations}Store") == "GAL"
    assert gal.findtext(f"{FI}Result/{FI}Properties/{GAL}EmailAddress") == "bob@contoso.com"


def test_find_statuses_and_versions(eas_lab):
    lab = eas_lab("Exchange 2016")
    device, _ = _ready(lab, "16.1")
    not_from_zero = el("Find:GalSearchCriterion", None, el("Find:Query", "bob"),
                       el("Find:Options", None, el("Find:Range", "5-9")))
    assert device.post("Find", _find(not_from_zero)).find("{Find}Response").findtext(f"{FI}Status") == "4"
    unknown = el("Find:MailBoxSearchCriterion", None, el("Find:Query", None, el("AirSync:CollectionId", "31337"),
                                                          el("Find:FreeText", "x")))
    assert device.post("Find", _find(unknown)).text("{Find}Status") == "3"
    assert device.post("Find", el("Find:Find", None, el("Find:SearchId", "x"))).text("{Find}Status") == "2"
    older, _ = _ready(lab, "14.1", device_id="FIND141")
    assert older.post("Find", _find(not_from_zero)).text("{Find}Status") == "137"
