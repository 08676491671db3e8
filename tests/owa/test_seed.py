"""Generated mailbox content and the ``mailbox seed|list|quota`` commands."""
from __future__ import annotations

import io
from datetime import datetime, timezone
from email import policy
from email.parser import BytesParser
from importlib import metadata

import pytest

from host.cli import CliContext, CliError, build_parser
from host.plugins import ENTRY_POINT_GROUP, collect, make_plugin_manager
from host.testing import registry_text
from plugins.owa import commands, storeplugin
from plugins.owa.mailbox import FolderType, NewItem, QuotaExceededError
from plugins.owa.seed import EXTERNAL_PEOPLE, Person, SeedPlan, generate
from plugins.owa.sqlitestore import SQLiteMailboxStore

NOW = datetime(2006, 3, 15, 10, 30, tzinfo=timezone.utc)
ALICE = Person("Alice Wood", "alice@contoso.com")
PEOPLE = [Person("Bob Kelly", "bob@contoso.com"), *EXTERNAL_PEOPLE]


def messages(count: int, seed: int = 1) -> list[NewItem]:
    return list(generate(ALICE, PEOPLE, SeedPlan(messages=count), seed=seed, now=NOW)[FolderType.INBOX])


def parse(mime: bytes):
    return BytesParser(policy=policy.default).parsebytes(mime)


def parse_all(items):
    return [parse(i.mime) for i in items]


# --- the generator ----------------------------------------------------------------


def test_the_same_seed_gives_the_same_mailbox_and_another_seed_another():
    plan = SeedPlan(messages=40, calendar=5, contacts=5, tasks=3, notes=2)

    def items(seed):
        return {kind: list(stream) for kind, stream in generate(ALICE, PEOPLE, plan, seed=seed, now=NOW).items()}

    first, again, other = items(7), items(7), items(8)
    assert first == again
    assert [m.mime for m in first[FolderType.INBOX]] != [m.mime for m in other[FolderType.INBOX]]
    assert {kind: len(found) for kind, found in first.items()} == {
        FolderType.INBOX: 40, FolderType.CALENDAR: 5, FolderType.CONTACTS: 5, FolderType.TASKS: 3,
        FolderType.NOTES: 2}


def test_indexed_properties_are_what_the_store_would_index_from_the_mime():
    for item in messages(150):
        indexed = NewItem.from_mime(item.mime, date_received=item.date_received)
        assert (indexed.subject, indexed.sender, indexed.to, indexed.cc, indexed.date_sent, indexed.importance,
                indexed.has_attachments, indexed.message_class) == (
            item.subject, item.sender, item.to, item.cc, item.date_sent, item.importance,
            item.has_attachments, item.message_class)


def test_a_dozen_messages_hold_plain_html_attachments_and_threads():
    dozen = messages(12, seed=3)
    parsed = [parse(m.mime) for m in dozen]
    assert all(m.mime.count(b"\n") == m.mime.count(b"\r\n") for m in dozen)  # CRLF throughout
    assert any(p.get_body(("html",)) is not None for p in parsed)
    assert any(p.get_body(("html",)) is None for p in parsed)
    attachments = [a for p in parsed for a in p.iter_attachments()]
    assert attachments
    for attachment in attachments:
        data = attachment.get_content()
        if attachment.get_content_type() == "image/png":
            assert data.startswith(b"\x89PNG\r\n\x1a\n")
        elif attachment.get_filename().endswith(".csv"):
            assert data.startswith("Region,Month,Revenue")
    assert any(p["In-Reply-To"] and p["Subject"].startswith("RE: ") for p in parse_all(messages(40)))
    received = [m.date_received for m in dozen]
    assert received == sorted(received) and received[-1] < NOW


def test_calendar_starts_with_a_weekly_meeting_with_exceptions():
    calendar = list(generate(ALICE, PEOPLE, SeedPlan(calendar=3), seed=1, now=NOW)[FolderType.CALENDAR])
    weekly = calendar[0].properties
    assert calendar[0].message_class == "IPM.Appointment"
    assert weekly["recurrence"] == {"type": "weekly", "interval": 1, "day_of_week": 2, "until": None}
    assert [e["deleted"] for e in weekly["exceptions"]] == [True, False]
    assert datetime.fromisoformat(weekly["start"]).weekday() == 0  # a Monday
    assert calendar[1].properties["all_day"] is True


# --- the CLI ----------------------------------------------------------------------


def lab_pm():
    host = [ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.value.startswith("host.")]
    return make_plugin_manager(only=host, extra=[storeplugin, commands])


@pytest.fixture
def cli(tmp_path):
    registry = tmp_path / "registry.ini"
    registry.write_text(registry_text(), encoding="utf-8")
    pm = lab_pm()
    parser = build_parser(collect(pm.hook.register_cli_commands()))

    def run(*argv: str) -> str:
        args = parser.parse_args(list(argv))
        args.registry, args.data = str(registry), str(tmp_path / "data")
        ctx = CliContext(args, pm)
        ctx.out = io.StringIO()
        assert args._command.run(ctx) == 0
        return ctx.out.getvalue()

    run.store_path = tmp_path / "data" / "mailstore.db"
    return run


def test_mailbox_seed_fills_each_folder_with_the_counts_asked_for(cli):
    out = cli("mailbox", "seed", "alice", "--messages", "600", "--calendar", "5", "--contacts", "7",
              "--tasks", "4", "--notes", "2", "--seed", "42")
    assert out.startswith("CONTOSO\\alice: added Inbox 600, Calendar 5, Contacts 7, Tasks 4, Notes 2 in ")
    assert "(seed 42)" in out
    listing = cli("mailbox", "list").splitlines()
    assert listing[0].split() == ["Mailbox", "Size", "Quota", "Mail", "Calendar", "Contacts", "Tasks", "Notes",
                                  "Hidden"]
    row = listing[1].split()
    assert row[0] == "CONTOSO\\alice" and row[3] == "ok" and row[4:] == ["600", "5", "7", "4", "2", "0"]


def test_mailbox_seed_with_the_same_seed_twice_gives_the_same_subjects(cli):
    cli("mailbox", "seed", "alice", "--messages", "30", "--seed", "5")
    cli("mailbox", "seed", "bob", "--messages", "30", "--seed", "5")
    with SQLiteMailboxStore(cli.store_path) as store:
        def subjects(mailbox_id):
            inbox = store.default_folder(mailbox_id, FolderType.INBOX).id
            return sorted(i.subject for i in store.list_items(mailbox_id, inbox, limit=100))

        assert subjects("CONTOSO\\alice") == subjects("CONTOSO\\bob")


def test_mailbox_quota_sets_shows_and_clears_a_mailbox_limit(cli):
    cli("mailbox", "seed", "alice", "--messages", "20", "--seed", "1")
    out = cli("mailbox", "quota", "alice", "--prohibit-send-receive", "1")
    assert "this mailbox's own limits" in out
    assert "over ProhibitSendReceiveQuota (cannot send or receive)" in out
    assert "ProhibitSendReceive" in cli("mailbox", "list").splitlines()[1].split()
    with SQLiteMailboxStore(cli.store_path) as store, pytest.raises(QuotaExceededError):
        store.deliver("CONTOSO\\alice", b"Subject: one more\r\n\r\nhi\r\n")
    out = cli("mailbox", "quota", "alice", "--clear")
    assert "mailbox store defaults (registry.ini)" in out and "state                    ok" in out


def test_mailbox_commands_refuse_unknown_users_and_mixed_quota_options(cli):
    with pytest.raises(CliError, match="no such user carol"):
        cli("mailbox", "seed", "carol", "--messages", "1")
    with pytest.raises(CliError, match="--clear"):
        cli("mailbox", "quota", "alice", "--clear", "--warning", "5")
