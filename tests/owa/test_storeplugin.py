"""The built-in store plugin: where the store lives, its limits from registry.ini, mailboxes on first use."""
from __future__ import annotations

from importlib import metadata

import pytest

from host.config import ConfigError
from host.hookspecs import hookimpl
from host.plugins import ENTRY_POINT_GROUP, make_plugin_manager
from host.regfile import RegType
from host.service import WebService
from host.testing import make_test_host, registry_text
from plugins.owa import storeplugin
from plugins.owa.mailbox import FolderType, QuotaExceededError, Quotas
from plugins.owa.mailboxes import ensure_mailbox
from plugins.owa.sqlitestore import SQLiteMailboxStore

DWORD, SZ = RegType.REG_DWORD, RegType.REG_SZ
STORE_KEY = storeplugin.MAILBOX_STORE_KEY
ALICE = "CONTOSO\\alice"


def lab_pm(*extra):
    """The host's own plugins and the store plugin, not whatever else is installed."""
    host = [ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.value.startswith("host.")]
    return make_plugin_manager(only=host, extra=[storeplugin, *extra])


@pytest.fixture
def hosts(tmp_path):
    made = []

    def make(**kwargs):
        service, _ = make_test_host(tmp_path / f"host{len(made)}", pm=kwargs.pop("pm", None) or lab_pm(), **kwargs)
        made.append(service)
        return service

    yield make
    for service in made:
        service.stop()


def limits(kb_warning: int, kb_send: int, kb_send_receive: int):
    return [(STORE_KEY, "IssueWarningQuota", DWORD, kb_warning), (STORE_KEY, "ProhibitSendQuota", DWORD, kb_send),
            (STORE_KEY, "ProhibitSendReceiveQuota", DWORD, kb_send_receive)]


def test_the_store_is_sqlite_in_the_data_directory(hosts):
    service = hosts()
    assert isinstance(service.mailstore, SQLiteMailboxStore)
    assert (service.data_dir / "mailstore.db").exists()


def test_mailbox_store_limits_come_from_registry_ini_and_refuse_delivery(hosts):
    service = hosts(set_values=limits(100, 200, 4))
    store = service.mailstore
    assert store.store_quotas() == Quotas(100, 200, 4)
    alice = ensure_mailbox(service, service.directory.find("alice"))
    store.deliver(alice, b"Subject: small\r\n\r\n" + b"s" * 1000)
    with pytest.raises(QuotaExceededError, match="ProhibitSendReceiveQuota"):
        store.deliver(alice, b"Subject: large\r\n\r\n" + b"l" * 4000)


def test_changed_limits_apply_on_reload_and_zero_means_no_limit(hosts):
    service = hosts(set_values=limits(100, 200, 300))
    assert service.mailstore.store_quotas().prohibit_send_receive_kb == 300
    service.registry_path.write_text(registry_text(limits(50, 0, 0)), encoding="utf-8")
    assert service.reload()
    assert service.mailstore.store_quotas() == Quotas(issue_warning_kb=50)


def test_a_quota_that_is_not_a_dword_stops_the_host(tmp_path):
    with pytest.raises(ConfigError, match="ProhibitSendQuota"):
        make_test_host(tmp_path, set_values=[(STORE_KEY, "ProhibitSendQuota", SZ, "2GB")], pm=lab_pm())


def test_a_mailbox_is_created_on_first_use_from_the_directory(hosts):
    service = hosts()
    directory = service.directory
    carol = directory.add_user("carol", "P@ssw0rd", display_name="Carol Smith",
                               smtp=["carol.smith@contoso.com", "carol@contoso.com"])
    assert service.mailstore.list_mailboxes() == []
    mailbox_id = ensure_mailbox(service, carol)
    assert ensure_mailbox(service, carol) == mailbox_id == "CONTOSO\\carol"
    [mailbox] = service.mailstore.list_mailboxes()
    assert (mailbox.display_name, mailbox.smtp_address) == ("Carol Smith", "carol.smith@contoso.com")
    assert service.mailstore.default_folder(mailbox_id, FolderType.INBOX).display_name == "Inbox"


def test_demo_users_get_a_starter_mailbox_on_the_first_run_only(tmp_path):
    values = [("/LM/W3SVC/1", "ServerAutoStart", DWORD, 0)]  # no web listeners needed here
    (tmp_path / "registry.ini").write_text(registry_text(values), encoding="utf-8")

    def run_once() -> dict[str, int]:
        service = WebService(tmp_path / "registry.ini", tmp_path / "data", pm=lab_pm(), announce=lambda line: None)
        service.start()
        try:
            store = service.mailstore
            counts = {}
            for mailbox in store.list_mailboxes():
                for folder_type in (FolderType.INBOX, FolderType.CALENDAR, FolderType.CONTACTS, FolderType.TASKS,
                                    FolderType.NOTES):
                    folder = store.default_folder(mailbox.id, folder_type)
                    counts[f"{mailbox.id}/{folder.display_name}"] = store.count_items(mailbox.id, folder.id)
            inbox = store.default_folder(ALICE, FolderType.INBOX).id
            messages = store.list_items(ALICE, inbox, limit=50)
            assert any(m.has_attachments for m in messages)
            assert any(b"text/html" in store.get_mime(ALICE, m.id) for m in messages)
            calendar = store.default_folder(ALICE, FolderType.CALENDAR).id
            recurring = [i for i in store.list_items(ALICE, calendar) if i.properties.get("recurrence")]
            assert {"weekly"} <= {i.properties["recurrence"]["type"] for i in recurring}
            return counts
        finally:
            service.stop()

    first = run_once()
    assert first[f"{ALICE}/Inbox"] == 12 and first["CONTOSO\\bob/Inbox"] == 12
    assert first[f"{ALICE}/Calendar"] >= 3 and first[f"{ALICE}/Contacts"] and first[f"{ALICE}/Tasks"]
    assert first[f"{ALICE}/Notes"] == 1
    assert run_once() == first


def test_a_user_added_later_gets_an_empty_mailbox(tmp_path):
    (tmp_path / "registry.ini").write_text(registry_text([("/LM/W3SVC/1", "ServerAutoStart", DWORD, 0)]),
                                           encoding="utf-8")
    service = WebService(tmp_path / "registry.ini", tmp_path / "data", pm=lab_pm(), announce=lambda line: None)
    service.start()
    try:
        carol = service.directory.add_user("carol", "P@ssw0rd")
        mailbox_id = ensure_mailbox(service, carol)
        inbox = service.mailstore.default_folder(mailbox_id, FolderType.INBOX).id
        assert service.mailstore.count_items(mailbox_id, inbox) == 0
    finally:
        service.stop()


def test_an_installed_store_plugin_replaces_the_built_in_one(hosts, tmp_path):
    class OtherStore:
        @hookimpl
        def open_mailbox_store(self, service):
            return SQLiteMailboxStore(tmp_path / "elsewhere.db")

    service = hosts(pm=lab_pm(OtherStore()))
    service.mailstore.create_mailbox(ALICE, "Alice Wood", "alice@contoso.com")
    assert (tmp_path / "elsewhere.db").exists()
    assert not (service.data_dir / "mailstore.db").exists()
