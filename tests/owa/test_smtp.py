"""Mail into the lab: the SMTP virtual server over a real socket, and submission from a mailbox.

One real host serves the module (starting one costs the lab CA and the demo
mailboxes); each test puts the registry.ini it needs into service with a
reload, the way a trainee edits the file while the host runs.
"""
from __future__ import annotations

import smtplib
import socket
from email.message import EmailMessage
from email.parser import BytesParser
from email import policy
from importlib import metadata
from pathlib import Path

import pytest

from host.config import ConfigError
from host.hookspecs import hookimpl
from host.plugins import ENTRY_POINT_GROUP, make_plugin_manager
from host.regfile import RegType
from host.service import WebService
from host.testing import make_test_host, registry_text
from plugins.owa import commands, storeplugin
from plugins.owa.mailbox import FolderType, QuotaExceededError, Quotas
from plugins.owa.submission import MessageTooLargeError, NoRecipientsError, SendQuotaExceededError, submit
from plugins.smtp import plugin as smtp_plugin

realserver = pytest.mark.realserver  # a started host on 127.0.0.1
DWORD, SZ, MULTI = RegType.REG_DWORD, RegType.REG_SZ, RegType.REG_MULTI_SZ
SMTPSVC = "/LM/SMTPSVC/1"
STORE_KEY = storeplugin.MAILBOX_STORE_KEY
ALICE, BOB = "CONTOSO\\alice", "CONTOSO\\bob"


class ChangeRecorder:
    """A throwaway plugin that records mailbox_changed, as Ping would listen to it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, frozenset, int]] = []

    @hookimpl
    def mailbox_changed(self, service, mailbox_id, folder_ids, change_number):
        self.calls.append((mailbox_id, folder_ids, change_number))


def lab_pm(*extra):
    """The host's own plugins and the ones under test, not whatever else is installed."""
    host = [ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.value.startswith("host.")]
    return make_plugin_manager(only=host, extra=[storeplugin, commands, smtp_plugin, *extra])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Lab:
    """A started host whose registry.ini the tests rewrite."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.ports = {"http": free_port(), "https": free_port(), "smtp": free_port()}
        self.registry = workdir / "registry.ini"
        self.recorder = ChangeRecorder()
        self.lines: list[str] = []
        self.write()
        self.service = WebService(self.registry, workdir / "data", pm=lab_pm(self.recorder),
                                  announce=self.lines.append)
        self.service.start()

    def text(self, values=()) -> str:
        base = registry_text([(SMTPSVC, "ServerBindings", MULTI, [f"127.0.0.1:{self.ports['smtp']}:"]), *values])
        return (base.replace('"127.0.0.1:8080:"', f'"127.0.0.1:{self.ports["http"]}:"')
                .replace('"127.0.0.1:8443:"', f'"127.0.0.1:{self.ports["https"]}:"'))

    def write(self, values=()) -> None:
        self.registry.write_text(self.text(values), encoding="utf-8")

    def configure(self, *values) -> None:
        """Put registry.ini with ``values`` set into service, as the file watcher would."""
        self.write(values)
        assert self.service.reload(), self.service.eventlog.query(limit=1)[0].text

    def smtp(self, port: int | None = None) -> smtplib.SMTP:
        return smtplib.SMTP("127.0.0.1", port or self.ports["smtp"], local_hostname="client.fabrikam.com", timeout=10)

    @property
    def store(self):
        return self.service.mailstore

    def inbox(self, mailbox_id: str):
        folder = self.store.default_folder(mailbox_id, FolderType.INBOX)
        return self.store.list_items(mailbox_id, folder.id, limit=1000)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    lab = Lab(tmp_path_factory.mktemp("smtp"))
    yield lab
    lab.service.stop()


@pytest.fixture(autouse=True)
def default_config(request):
    """Every test starts from the shipped configuration and no per-mailbox limits."""
    if "lab" not in request.fixturenames:
        yield
        return
    lab = request.getfixturevalue("lab")
    lab.configure()
    for mailbox in lab.store.list_mailboxes():
        lab.store.set_mailbox_quotas(mailbox.id, None)
    yield


def mail(subject: str, to: str = "Alice Wood <alice@contoso.com>", body: str = "Hello.", **headers) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Jürgen Weber <juergen.weber@fabrikam.com>"
    msg["To"] = to
    msg["Subject"] = subject
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg.as_bytes(policy=policy.SMTP)  # CRLF line ends, as SMTP requires


def parse(mime: bytes):
    return BytesParser(policy=policy.default).parsebytes(mime)


# --- delivery over SMTP -----------------------------------------------------------


@realserver
def test_message_sent_with_smtplib_appears_in_the_inbox_with_its_subject(lab):
    with lab.smtp() as client:
        code, banner = client.docmd("NOOP")
        refused = client.sendmail("juergen.weber@fabrikam.com", ["alice@contoso.com"], mail("Angebot für Q3"))
    assert code == 250 and refused == {}
    [item] = [i for i in lab.inbox(ALICE) if i.subject == "Angebot für Q3"]
    assert item.sender == "Jürgen Weber <juergen.weber@fabrikam.com>"
    stored = parse(lab.store.get_mime(ALICE, item.id))
    assert stored["Received"].startswith("from client.fabrikam.com ([127.0.0.1]) by exchange01.contoso.com "
                                         "with Microsoft SMTPSVC(")
    assert "FILETIME=[" in stored["X-OriginalArrivalTime"]


@realserver
def test_delivery_fires_mailbox_changed_for_the_inbox(lab):
    inbox = lab.store.default_folder(BOB, FolderType.INBOX).id
    before = len(lab.recorder.calls)
    with lab.smtp() as client:
        client.sendmail("juergen.weber@fabrikam.com", ["bob@contoso.com"], mail("Ping me", to="bob@contoso.com"))
    mailbox_id, folders, change_number = lab.recorder.calls[before]
    assert (mailbox_id, inbox in folders) == (BOB, True)
    assert change_number == lab.store.get_mailbox(BOB).change_number


@realserver
def test_banner_and_ehlo_name_the_server_as_iis_smtp_did(lab):
    with lab.smtp() as client:
        code, reply = client.ehlo()
        assert code == 250
        assert reply.splitlines()[0] == b"exchange01.contoso.com Hello [127.0.0.1]"
        assert client.esmtp_features["size"] == "2097152"
        assert "enhancedstatuscodes" in client.esmtp_features


@realserver
def test_unknown_recipient_in_a_lab_domain_gets_550_5_1_1(lab):
    with lab.smtp() as client, pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        client.sendmail("juergen.weber@fabrikam.com", ["nobody@contoso.com"], mail("Hello?"))
    assert refused.value.recipients["nobody@contoso.com"] == (550, b"5.1.1 User unknown")


@realserver
def test_other_domains_are_not_relayed(lab):
    with lab.smtp() as client, pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        client.sendmail("spammer@example.org", ["victim@example.net"], mail("Relay?"))
    assert refused.value.recipients["victim@example.net"][0] == 550
    assert refused.value.recipients["victim@example.net"][1].startswith(b"5.7.1 Unable to relay")


@realserver
def test_mailbox_over_prohibit_send_receive_quota_refuses_at_rcpt_with_552_5_2_2(lab):
    size_kb = lab.store.mailbox_size(ALICE) // 1024
    lab.configure((STORE_KEY, "ProhibitSendReceiveQuota", DWORD, max(size_kb - 1, 1)))
    with lab.smtp() as client, pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        client.sendmail("juergen.weber@fabrikam.com", ["alice@contoso.com"], mail("Too much"))
    assert refused.value.recipients["alice@contoso.com"] == (552, b"5.2.2 Mailbox full")
    [event] = lab.service.eventlog.query(source="MSExchangeIS Mailbox Store", event_id=8528, limit=1)
    assert "CONTOSO\\alice" in event.text and "ProhibitSendReceiveQuota" in event.text


@realserver
def test_message_that_would_pass_the_quota_is_refused_after_data(lab):
    """Under the limit at RCPT, but this message would cross it: the store's own check refuses."""
    size_kb = -(-lab.store.mailbox_size(BOB) // 1024)
    lab.store.set_mailbox_quotas(BOB, Quotas(prohibit_send_receive_kb=size_kb + 4))
    big = mail("Large report", to="bob@contoso.com", body="report line\n" * 2000)
    with lab.smtp() as client, pytest.raises(smtplib.SMTPDataError) as refused:
        client.sendmail("juergen.weber@fabrikam.com", ["bob@contoso.com"], big)
    assert (refused.value.smtp_code, refused.value.smtp_error) == (552, b"5.2.2 Mailbox full")
    assert "Large report" not in [i.subject for i in lab.inbox(BOB)]


@realserver
def test_one_full_mailbox_among_several_recipients_gets_an_ndr_not_a_refusal(lab):
    size_kb = -(-lab.store.mailbox_size(BOB) // 1024)
    lab.store.set_mailbox_quotas(BOB, Quotas(prohibit_send_receive_kb=size_kb + 4))
    message = mail("Quarterly figures", to="alice@contoso.com, bob@contoso.com", body="figures\n" * 2500)
    with lab.smtp() as client:
        refused = client.sendmail("alice@contoso.com", ["alice@contoso.com", "bob@contoso.com"], message)
    assert refused == {}
    subjects = [i.subject for i in lab.inbox(ALICE)]
    assert "Quarterly figures" in subjects and "Undeliverable: Quarterly figures" in subjects
    [ndr] = [i for i in lab.inbox(ALICE) if i.subject == "Undeliverable: Quarterly figures"]
    report = parse(lab.store.get_mime(ALICE, ndr.id))
    assert report.get_content_type() == "multipart/report"
    assert b"Status: 5.2.2" in lab.store.get_mime(ALICE, ndr.id)


@realserver
def test_message_over_max_message_size_gets_552_5_3_4(lab):
    """A client that does not declare SIZE= sends it all; the byte count refuses it after DATA."""
    lab.configure((SMTPSVC, "MaxMessageSize", DWORD, 4096))
    with lab.smtp() as client:
        assert client.ehlo()[0] == 250 and client.esmtp_features["size"] == "4096"
        assert client.mail("juergen.weber@fabrikam.com")[0] == 250
        assert client.rcpt("alice@contoso.com")[0] == 250
        reply = client.data(mail("Big", body="z\n" * 4000))
    assert reply == (552, b"5.3.4 Message size exceeds fixed maximum message size")
    assert "Big" not in [i.subject for i in lab.inbox(ALICE)]


@realserver
def test_size_parameter_over_the_limit_is_refused_at_mail_from(lab):
    lab.configure((SMTPSVC, "MaxMessageSize", DWORD, 4096))
    with lab.smtp() as client:
        client.ehlo()
        code, reply = client.mail("juergen.weber@fabrikam.com", ["SIZE=10000"])
        assert (code, reply) == (552, b"5.3.4 Message size exceeds fixed maximum message size")
        client.rset()
        assert client.mail("juergen.weber@fabrikam.com", ["SIZE=1000"])[0] == 250


@realserver
def test_max_recipients_refuses_the_extra_ones_with_452(lab):
    lab.configure((SMTPSVC, "MaxRecipients", DWORD, 1))
    with lab.smtp() as client:
        refused = client.sendmail("juergen.weber@fabrikam.com", ["alice@contoso.com", "bob@contoso.com"],
                                  mail("Two of you"))
    assert refused == {"bob@contoso.com": (452, b"4.5.3 Too many recipients")}


@realserver
def test_changed_binding_is_rebound_on_reload(lab):
    old, new = lab.ports["smtp"], free_port()
    lab.ports["smtp"] = new
    try:
        lab.configure()
        assert f"Listening on smtp://127.0.0.1:{new}/" in lab.lines
        with lab.smtp(new) as client:
            assert client.noop()[0] == 250
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", old), timeout=2).close()
    finally:
        lab.ports["smtp"] = old
        lab.configure()


@realserver
def test_stopped_virtual_server_accepts_no_connections(lab):
    lab.configure((SMTPSVC, "ServerAutoStart", DWORD, 0))
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", lab.ports["smtp"]), timeout=2).close()


# --- configuration ----------------------------------------------------------------


@pytest.mark.parametrize("binding, message", [
    ("127.0.0.1:2525:mail.contoso.com", "SMTP bindings have no host header"),
    ("mail.contoso.com:25:", "is not an IP address"),
    ("127.0.0.1:99999:", "is not a number from 1 to 65535"),
])
def test_bad_smtp_server_bindings_stop_the_host(tmp_path, binding, message):
    with pytest.raises(ConfigError, match=message):
        make_test_host(tmp_path, set_values=[(SMTPSVC, "ServerBindings", MULTI, [binding])], pm=lab_pm())


def test_fqdn_must_be_a_domain_name(tmp_path):
    with pytest.raises(ConfigError, match="not a fully qualified domain name"):
        make_test_host(tmp_path, set_values=[(SMTPSVC, "FullyQualifiedDomainName", SZ, "exchange 01")], pm=lab_pm())


@realserver
def test_port_in_use_is_logged_as_smtpsvc_115_and_the_host_keeps_running(tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        lines: list[str] = []
        # the web site stopped, so only the SMTP binding is tried
        (tmp_path / "registry.ini").write_text(
            registry_text([(SMTPSVC, "ServerBindings", MULTI, [f"127.0.0.1:{port}:"]),
                           ("/LM/W3SVC/1", "ServerAutoStart", DWORD, 0)]), encoding="utf-8")
        service = WebService(tmp_path / "registry.ini", tmp_path / "data", pm=lab_pm(), announce=lines.append)
        service.start()
        try:
            assert f"Cannot listen on smtp://127.0.0.1:{port}/" in lines[0]
            [event] = service.eventlog.query(source="SMTPSVC", event_id=115)
            assert "could not bind instance 1" in event.text
        finally:
            service.stop()


# --- submission from a mailbox ----------------------------------------------------


@pytest.fixture
def host(tmp_path):
    """An in-process host (no sockets): submission needs no listener."""
    service, _ = make_test_host(tmp_path, pm=lab_pm())
    yield service
    service.stop()


def _mailbox(service, logon: str) -> str:
    from plugins.owa.mailboxes import ensure_mailbox

    return ensure_mailbox(service, service.directory.find(logon))


def _subjects(service, mailbox_id: str, folder_type: FolderType) -> list[str]:
    store = service.mailstore
    folder = store.default_folder(mailbox_id, folder_type).id
    return [i.subject for i in store.list_items(mailbox_id, folder, limit=100)]


def test_submission_delivers_locally_picks_up_the_rest_and_saves_to_sent_items(host):
    alice, bob = _mailbox(host, ALICE), _mailbox(host, BOB)
    message = mail("Lunch?", to="bob@contoso.com, Jürgen <juergen.weber@fabrikam.com>",
                   Bcc="secret@northwindtraders.com")
    result = submit(host, alice, message)
    assert result.delivered == ("bob@contoso.com",)
    assert set(result.picked_up) == {"juergen.weber@fabrikam.com", "secret@northwindtraders.com"}
    assert _subjects(host, bob, FolderType.INBOX) == ["Lunch?"]
    [delivered] = host.mailstore.list_items(bob, host.mailstore.default_folder(bob, FolderType.INBOX).id)
    assert parse(host.mailstore.get_mime(bob, delivered.id))["Bcc"] is None
    pickup = result.pickup_file.read_bytes()
    assert pickup.startswith(b"x-sender: alice@contoso.com\r\nx-receiver: ")
    assert b"x-receiver: secret@northwindtraders.com\r\n" in pickup and b"\r\nBcc:" not in pickup
    assert list(result.pickup_file.parent.glob("*.eml")) == [result.pickup_file]
    sent = host.mailstore.get_item(alice, result.sent_item_id)
    assert sent.subject == "Lunch?" and sent.read
    assert parse(host.mailstore.get_mime(alice, sent.id))["Bcc"] == "secret@northwindtraders.com"


def test_submission_stamps_from_date_and_message_id_when_the_client_left_them_out(host):
    alice, bob = _mailbox(host, ALICE), _mailbox(host, BOB)
    result = submit(host, alice, b"To: bob@contoso.com\r\nSubject: bare\r\n\r\nhi\r\n")
    [item] = host.mailstore.list_items(bob, host.mailstore.default_folder(bob, FolderType.INBOX).id)
    stamped = parse(host.mailstore.get_mime(bob, item.id))
    assert stamped["From"] == "Alice Wood <alice@contoso.com>"
    assert stamped["Message-ID"] == result.message_id and stamped["Date"] is not None


def test_unknown_lab_recipient_bounces_to_the_sender_with_an_ndr(host):
    alice = _mailbox(host, ALICE)
    result = submit(host, alice, mail("Hello?", to="nobody@contoso.com"))
    assert [(f.address, str(f.reply)) for f in result.failed] == [("nobody@contoso.com", "550 5.1.1 User unknown")]
    assert _subjects(host, alice, FolderType.INBOX) == ["Undeliverable: Hello?"]


def test_full_recipient_mailbox_fails_that_recipient_only(host):
    alice, bob = _mailbox(host, ALICE), _mailbox(host, BOB)
    submit(host, alice, b"Subject: filler\r\n\r\n" + b"f" * 2048, recipients=["bob@contoso.com"])
    host.mailstore.set_mailbox_quotas(bob, Quotas(prohibit_send_receive_kb=1))
    result = submit(host, alice, mail("Still there?", to="bob@contoso.com"))
    assert [str(f.reply) for f in result.failed] == ["552 5.2.2 Mailbox full"]
    assert "Still there?" not in _subjects(host, bob, FolderType.INBOX)
    assert "Undeliverable: Still there?" in _subjects(host, alice, FolderType.INBOX)


def test_sender_over_prohibit_send_quota_cannot_send_at_all(host):
    alice, bob = _mailbox(host, ALICE), _mailbox(host, BOB)
    submit(host, alice, mail("filler", to="bob@contoso.com", body="filler\n" * 700))
    host.mailstore.set_mailbox_quotas(alice, Quotas(prohibit_send_kb=1))
    with pytest.raises(SendQuotaExceededError, match="ProhibitSendQuota") as refused:
        submit(host, alice, mail("Blocked", to="bob@contoso.com"))
    assert isinstance(refused.value, QuotaExceededError)
    assert "Blocked" not in _subjects(host, bob, FolderType.INBOX)
    assert "Blocked" not in _subjects(host, alice, FolderType.SENT_ITEMS)


def test_submission_refuses_oversized_and_recipientless_messages(host):
    alice = _mailbox(host, ALICE)
    with pytest.raises(MessageTooLargeError):
        submit(host, alice, mail("Huge", to="bob@contoso.com", body="h\n" * 1_100_000))
    with pytest.raises(NoRecipientsError):
        submit(host, alice, b"Subject: to nobody\r\n\r\nhi\r\n")
    assert _subjects(host, alice, FolderType.SENT_ITEMS) == []
