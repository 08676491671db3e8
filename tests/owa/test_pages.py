"""The OWA pages on /exchange, in-process, as a browser user meets them (Basic authentication).

davex.dll does not hand browser requests to the pages yet; :class:`DavexWithPages`
registers ``davex.dll`` with exactly the hook-up docs/owa.md asks for, so these
tests run the real WebDAV handler and the real pages behind the real pipeline.
"""
from __future__ import annotations

import base64
import json
import re
from datetime import datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from importlib import metadata

import pytest

from host import hookimpl
from host.plugins import ENTRY_POINT_GROUP, make_plugin_manager
from host.regfile import RegType
from host.scriptmaps import Handler
from plugins.owa import davex, exchweb, forms, pages, storeplugin
from plugins.owa.mailbox import FolderType
from plugins.owa.mailboxes import ensure_mailbox
from plugins.owa.pages import outofoffice
from plugins.owa.seed import Person, SeedPlan, seed_mailbox
from plugins.smtp import plugin as smtp_plugin

DWORD, SZ, MULTI = RegType.REG_DWORD, RegType.REG_SZ, RegType.REG_MULTI_SZ
EXCHANGE = "/LM/W3SVC/1/ROOT/Exchange"
EXCHWEB = "/LM/W3SVC/1/ROOT/ExchWeb"
# The registry.ini line docs/owa.md asks for: ASP pages on /ExchWeb run through asp.dll.
ASP_SCRIPT_MAP = (EXCHWEB, "ScriptMaps", MULTI, [".asp,C:\\WINDOWS\\system32\\inetsrv\\asp.dll,1,GET,HEAD,POST"])
ALICE, BOB = "CONTOSO\\alice", "CONTOSO\\bob"
PASSWORD = "P@ssw0rd"


class DavexWithPages:
    """davex.dll plus the hook-up: browser requests go to the OWA pages."""

    def __init__(self) -> None:
        self.applications: list[davex.DavexApplication] = []

    @hookimpl
    def register_handlers(self):
        def factory(service):
            dav = davex.DavexApplication(service)
            self.applications.append(dav)

            def app(environ, start_response):
                if pages.is_browser_request(environ):
                    return pages.app(environ, start_response)
                return dav(environ, start_response)

            return app

        return [Handler(davex.HANDLER_NAME, factory, "davex.dll with OWA pages")]

    @hookimpl
    def host_shutdown(self, service):
        for application in self.applications:
            application.subscriptions.close()


def owa_pm():
    """The host's own plugins and the mailbox server's, not whatever else is installed."""
    host = [ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.value.startswith("host.")]
    return make_plugin_manager(only=host, extra=[storeplugin, smtp_plugin, forms, exchweb, DavexWithPages()])


def basic(user: str, password: str = PASSWORD) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def mime(subject: str, *, sender: str = "Bob Kelly <bob@contoso.com>", to: str = "alice@contoso.com",
         text: str = "Hello.", html: str | None = None, attachment: tuple[str, bytes] | None = None,
         message_id: str | None = None) -> bytes:
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Date"] = "Mon, 02 Jun 2003 10:00:00 +0200"
    if message_id:
        msg["Message-ID"] = message_id
    msg.set_content(text)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    if attachment is not None:
        msg.add_attachment(attachment[1], maintype="text", subtype="csv", filename=attachment[0])
    return msg.as_bytes()


class Owa:
    """An in-process host with the OWA pages; requests as a browser with Basic credentials."""

    def __init__(self, service, app) -> None:
        self.service, self.app = service, app
        app.lint = False  # WebTest's linter knows neither WebDAV verbs nor 440
        self.store = service.mailstore
        self.alice = ensure_mailbox(service, service.directory.find(ALICE))
        self.bob = ensure_mailbox(service, service.directory.find(BOB))

    def get(self, path: str, user: str | None = ALICE, status="*", **headers):
        auth = basic(user) if user else {}
        return self.app.get(path, headers={**auth, **headers}, status=status)

    def post(self, path: str, fields: dict, user: str = ALICE, status="*"):
        return self.app.post(path, fields, headers=basic(user), status=status)

    def deliver(self, subject: str, mailbox: str | None = None, **kwargs):
        received = kwargs.pop("date_received", None)
        return self.store.deliver(mailbox or self.alice, mime(subject, **kwargs), date_received=received)

    def folder(self, folder_type: FolderType, mailbox: str | None = None):
        return self.store.default_folder(mailbox or self.alice, folder_type)

    def subjects(self, folder_type: FolderType, mailbox: str | None = None) -> list[str]:
        folder = self.folder(folder_type, mailbox)
        return [i.subject for i in self.store.list_items(mailbox or self.alice, folder.id, limit=500)]

    def canary(self, user: str = ALICE) -> str:
        page = self.get("/exchange/alice/?Cmd=new" if user == ALICE else "/exchange/bob/?Cmd=new", user=user)
        return page.forms[0]["canary"].value


def open_owa(lab, set_values=()) -> Owa:
    """An :class:`Owa` on the ``lab`` fixture's host, registry.ini changed by ``set_values``."""
    return Owa(*lab(set_values=[ASP_SCRIPT_MAP, *set_values], pm=owa_pm()))


@pytest.fixture
def owa(lab) -> Owa:
    return open_owa(lab)


def link(page, text: str) -> str:
    """The href of the link whose text is ``text``."""
    found = page.html.find("a", string=text)
    assert found is not None, f"no link {text!r} on the page"
    return found["href"]


# --- folders -----------------------------------------------------------------------------------


def test_inbox_lists_delivered_messages_newest_first_25_a_page(owa):
    start = datetime(2024, 5, 1, 8, 0, tzinfo=timezone.utc)
    for n in range(30):
        owa.deliver(f"Report {n:02d}", date_received=start + timedelta(minutes=n))
    first = owa.get("/exchange/alice/Inbox/")
    assert first.status_int == 200
    assert "Page 1 of 2" in first.text and "30 items" in first.text
    assert "Report 29" in first.text and "Report 05" in first.text and "Report 04" not in first.text
    assert first.text.index("Report 29") < first.text.index("Report 28")
    second = owa.get(first.html.find("a", rel="next")["href"])
    assert "Page 2 of 2" in second.text
    assert "Report 04" in second.text and "Report 00" in second.text and "Report 29" not in second.text


def test_the_vdir_root_opens_the_users_own_inbox(owa):
    owa.deliver("Welcome")
    root = owa.get("/exchange/")
    assert root.status_int == 302 and root.location.endswith("/exchange/alice/")
    mailbox = owa.get("/exchange/alice/")
    assert mailbox.status_int == 302 and mailbox.location.endswith("/exchange/alice/Inbox/")
    assert "Welcome" in owa.get(mailbox.location).text


def test_the_folder_list_shows_the_default_folders_inbox_first(owa):
    page = owa.get("/exchange/alice/Inbox/")
    names = [a.text for a in page.html.select("nav .folders a")]
    assert names[:3] == ["Inbox", "Calendar", "Contacts"]
    assert {"Sent Items", "Deleted Items", "Drafts"} <= set(names)


def test_calendar_and_contacts_are_lists_of_their_items(owa):
    owner = Person("Alice Wood", "alice@contoso.com")
    people = [Person("Nancy Davolio", "nancy.davolio@northwindtraders.com"), Person("Bob Kelly", "bob@contoso.com")]
    seed_mailbox(owa.store, owa.alice, owner, people, SeedPlan(calendar=3, contacts=2), seed=7,
                 now=datetime(2024, 5, 1, tzinfo=timezone.utc))
    calendar = owa.get("/exchange/alice/Calendar/")
    assert "Weekly team meeting" in calendar.text and "Weekly" in calendar.text
    assert "(all day)" in calendar.text and "3 appointments" in calendar.text
    contacts = owa.get("/exchange/alice/Contacts/")
    assert "Davolio, Nancy" in contacts.text and "nancy.davolio@northwindtraders.com" in contacts.text


# --- reading ------------------------------------------------------------------------------------


def test_a_message_page_shows_html_without_scripts(owa):
    hostile = ('<p>Visible text</p><script>alert("body")</script><img src="x" onerror="alert(1)">'
               '<a href="javascript:alert(2)">click</a><style>body{display:none}</style>')
    item = owa.deliver('<script>alert("subject")</script>', html=hostile)
    page = owa.get(f"/exchange/alice/Inbox/x-{item.id}.EML")
    assert page.status_int == 200
    assert "Visible text" in page.text
    assert "<script" not in page.text
    assert "onerror" not in page.text and "javascript:" not in page.text and "display:none" not in page.text
    assert '&lt;script&gt;alert(&#34;subject&#34;)&lt;/script&gt;' in page.text
    assert "script-src 'none'" in page.headers["Content-Security-Policy"]


def test_a_plain_text_message_is_shown_escaped(owa):
    item = owa.deliver("Plain", text="if a < b && c > d: <b>not bold</b>")
    page = owa.get(f"/exchange/alice/Inbox/x-{item.id}.EML")
    assert "if a &lt; b &amp;&amp; c &gt; d: &lt;b&gt;not bold&lt;/b&gt;" in page.text


def test_opening_a_message_marks_it_read(owa):
    item = owa.deliver("Unread one")
    assert "unread" in str(owa.get("/exchange/alice/Inbox/").html.find("a", string="Unread one").find_parent("tr"))
    owa.get(f"/exchange/alice/Inbox/x-{item.id}.EML")
    assert owa.store.get_item(owa.alice, item.id).read


def test_attachments_are_listed_and_download_as_sent(owa):
    data = b"region,revenue\nnorth,10\n"
    item = owa.deliver("Figures", attachment=("q3 figures.csv", data))
    page = owa.get(f"/exchange/alice/Inbox/x-{item.id}.EML")
    download = owa.get(link(page, "q3 figures.csv"))
    assert download.status_int == 200 and download.body == data
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert "q3%20figures.csv" in download.headers["Content-Disposition"]
    assert owa.get(f"/exchange/alice/Inbox/x-{item.id}.EML?Cmd=attachment&Part=2").status_int == 404


def test_without_translate_f_a_browser_gets_the_page_and_webdav_gets_the_mime(owa):
    item = owa.deliver("Both ways")
    page = owa.get(f"/exchange/alice/Inbox/x-{item.id}.EML")
    raw = owa.get(f"/exchange/alice/Inbox/x-{item.id}.EML", Translate="f")
    assert page.content_type == "text/html" and "Both ways" in page.text
    assert raw.status_int == 200 and raw.body.startswith(b"From: Bob Kelly")


def test_delete_moves_the_message_to_deleted_items(owa):
    item = owa.deliver("Old news")
    page = owa.get(f"/exchange/alice/Inbox/x-{item.id}.EML")
    answer = page.forms[0].submit(headers=basic(ALICE))
    assert answer.status_int == 303 and "Notice=deleted" in answer.location
    assert "Old news" not in owa.subjects(FolderType.INBOX)
    assert "Old news" in owa.subjects(FolderType.DELETED_ITEMS)


# --- sending ------------------------------------------------------------------------------------


def test_compose_sends_to_bob_and_it_arrives_in_his_inbox(owa):
    form = owa.get("/exchange/alice/?Cmd=new").forms[0]
    form["To"], form["Subject"], form["Body"] = "bob", "Lunch on Friday?", "At noon, the usual place."
    sent = form.submit(headers=basic(ALICE))
    assert sent.status_int == 303
    assert "Your message has been sent." in owa.get(sent.location).text
    assert "Lunch on Friday?" in owa.subjects(FolderType.INBOX, owa.bob)
    assert "Lunch on Friday?" in owa.subjects(FolderType.SENT_ITEMS)
    bobs_inbox = owa.get("/exchange/bob/Inbox/", user=BOB)
    message = owa.get(link(bobs_inbox, "Lunch on Friday?"), user=BOB)
    assert "At noon, the usual place." in message.text and "Alice Wood" in message.text


def test_reply_is_prefilled_and_threads_to_the_original(owa):
    item = owa.deliver("Budget", message_id="<budget-1@contoso.com>", text="Please review.")
    form = owa.get(f"/exchange/alice/Inbox/x-{item.id}.EML?Cmd=reply").forms[0]
    assert form["Subject"].value == "RE: Budget"
    assert "bob@contoso.com" in form["To"].value
    assert "-----Original Message-----" in form["Body"].value and "Please review." in form["Body"].value
    form["Body"] = "Looks good.\n" + form["Body"].value
    assert form.submit(headers=basic(ALICE)).status_int == 303
    bobs = owa.folder(FolderType.INBOX, owa.bob)
    reply = owa.store.list_items(owa.bob, bobs.id)[0]
    headers = BytesParser(policy=policy.default).parsebytes(owa.store.get_mime(owa.bob, reply.id))
    assert reply.subject == "RE: Budget" and headers["In-Reply-To"] == "<budget-1@contoso.com>"


def test_forward_sends_the_original_attachments_along(owa):
    item = owa.deliver("Figures", attachment=("figures.csv", b"a,b\n1,2\n"))
    form = owa.get(f"/exchange/alice/Inbox/x-{item.id}.EML?Cmd=forward").forms[0]
    assert form["Subject"].value == "FW: Figures" and form["To"].value == ""
    form["To"] = "Bob Kelly"
    assert form.submit(headers=basic(ALICE)).status_int == 303
    forwarded = owa.store.list_items(owa.bob, owa.folder(FolderType.INBOX, owa.bob).id)[0]
    assert forwarded.subject == "FW: Figures" and forwarded.has_attachments


def test_an_unknown_recipient_keeps_the_draft_and_says_why(owa):
    form = owa.get("/exchange/alice/?Cmd=new").forms[0]
    form["To"], form["Subject"] = "nobody-here", "Kept subject"
    answer = form.submit(headers=basic(ALICE), status=400)
    assert 'The name "nobody-here" could not be resolved' in answer.html.find(class_="error").text
    assert answer.forms[0]["Subject"].value == "Kept subject"
    assert "Kept subject" not in owa.subjects(FolderType.SENT_ITEMS)


def test_a_post_without_the_sessions_canary_is_refused(owa):
    fields = {"To": "bob@contoso.com", "Subject": "Forged", "Body": "from another site"}
    assert owa.post("/exchange/alice/?Cmd=send", fields).status_int == 403
    assert owa.post("/exchange/alice/?Cmd=send", {**fields, "canary": "0" * 64}).status_int == 403
    bobs_canary = owa.canary(BOB)
    assert owa.post("/exchange/alice/?Cmd=send", {**fields, "canary": bobs_canary}).status_int == 403
    assert "Forged" not in owa.subjects(FolderType.INBOX, owa.bob)
    assert owa.post("/exchange/alice/?Cmd=send", {**fields, "canary": owa.canary()}).status_int == 303
    assert "Forged" in owa.subjects(FolderType.INBOX, owa.bob)


# --- access ------------------------------------------------------------------------------------------


def test_another_users_mailbox_is_403(owa):
    owa.deliver("Private matters")
    answer = owa.get("/exchange/alice/Inbox/", user=BOB)
    assert answer.status_int == 403
    assert "Private matters" not in answer.text
    assert owa.get("/exchange/bob/Inbox/", user=BOB).status_int == 200


def test_without_credentials_the_browser_is_asked_for_them(owa):
    answer = owa.get("/exchange/alice/Inbox/", user=None)
    assert answer.status_int == 401
    assert any(v.startswith("Basic") for v in answer.headers.getall("WWW-Authenticate"))


# --- options --------------------------------------------------------------------------------------


def test_out_of_office_is_kept_in_the_mailbox_where_webdav_can_read_it(owa):
    form = owa.get("/exchange/alice/?Cmd=options").forms[0]
    form["OofState"], form["OofReply"] = "1", "Back on Monday."
    saved = form.submit(headers=basic(ALICE))
    assert saved.status_int == 303
    page = owa.get(saved.location)
    assert "Your Out of Office settings have been saved." in page.text
    assert page.forms[0]["OofState"].value == "1" and "Back on Monday." in page.text
    assert outofoffice.read(owa.store, owa.alice) == outofoffice.OutOfOffice(True, "Back on Monday.")
    stored = owa.get("/exchange/alice/NON_IPM_SUBTREE/Out%20of%20Office/IPM.Note.Rules.OofTemplate.Microsoft",
                     Translate="f")
    assert stored.status_int == 200 and json.loads(stored.body) == {"state": True, "message": "Back on Monday."}


def test_password_change_needs_the_old_password_and_takes_effect_at_once(owa):
    form = owa.get("/exchange/alice/?Cmd=options").forms[1]
    form["OldPassword"], form["NewPassword"], form["ConfirmPassword"] = "wrong", "N3w!pass", "N3w!pass"
    refused = form.submit(headers=basic(ALICE), status=400)
    assert refused.html.find(class_="error").text == "The current password is not correct."
    form = owa.get("/exchange/alice/?Cmd=options").forms[1]
    form["OldPassword"], form["NewPassword"], form["ConfirmPassword"] = PASSWORD, "N3w!pass", "N3w!pass"
    changed = form.submit(headers=basic(ALICE))
    assert changed.status_int == 303
    assert owa.get("/exchange/alice/Inbox/").status_int == 401
    page = owa.app.get(changed.location, headers=basic(ALICE, "N3w!pass"))
    assert "Your password has been changed." in page.text


def test_pages_look_like_owa_and_load_their_stylesheet(owa):
    page = owa.get("/exchange/alice/Inbox/")
    href = page.html.find("link", rel="stylesheet")["href"]
    assert re.search(r"Outlook Web Access", page.text)
    css = owa.get(href, user=None)
    assert css.status_int == 200 and css.content_type == "text/css"
