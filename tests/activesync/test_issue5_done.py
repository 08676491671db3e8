"""Issue 5's finish line for the Exchange 2016 persona, with the lab's own EAS client over real HTTPS.

A real host (``python -m host serve``), 1,000 seeded messages, Provision,
FolderSync, a full initial Sync, direct push woken by SMTP delivery, MoveItems,
a Sync Delete, and SendMail reaching the other demo user.
"""
from __future__ import annotations

import smtplib
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from device import BasicAuth, Delete, DeviceSession, DeviceState, FolderType, MoveRequest, TlsSettings  # noqa: E402
from host.regfile import RegType  # noqa: E402
from host.testing import registry_text  # noqa: E402
from plugins.activesync.plugin import EXCHANGE_SETUP  # noqa: E402
from realhost import RealHost  # noqa: E402

pytestmark = pytest.mark.realserver
PASSWORD = "P@ssw0rd"


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    real = RealHost(tmp_path_factory.mktemp("e2016"),
                    registry_text([(EXCHANGE_SETUP, "EmulatedVersion", RegType.REG_SZ, "Exchange 2016")]))
    seeded = real.run_cli("mailbox", "seed", "CONTOSO\\alice", "--messages", "1000", "--seed", "7")
    assert seeded.returncode == 0, seeded.stderr
    real.start()
    yield real
    assert real.stop() == 0


def phone(host: RealHost, user: str) -> DeviceSession:
    url = f"https://127.0.0.1:{host.https_port}/Microsoft-Server-ActiveSync"
    state = DeviceState.new(url, user, device_type="iPhone", user_agent="Apple-iPhone9C1/1602.92")
    return DeviceSession(state, BasicAuth(user, PASSWORD), tls=TlsSettings(ca_file=host.root_ca()), timeout=120)


def inbox_of(session: DeviceSession) -> str:
    return session.state.folders_of_type(FolderType.INBOX)[0].server_id


def test_2016_client_provisions_syncs_1000_is_pushed_moves_deletes_and_sends(host):
    with phone(host, "CONTOSO\\alice") as alice:
        alice.provision()  # as iOS does when it sets up an Exchange account
        assert alice.state.policy_key not in (None, "", "0")
        items = alice.sync_all([FolderType.INBOX], window_size=512)
        assert alice.version == "16.1"
        inbox = inbox_of(alice)
        assert len(items[inbox]) >= 1000

        # direct push: a Ping held on the Inbox answers within a second of an SMTP delivery
        answer: dict = {}

        def hold() -> None:
            answer["reply"] = alice.ping([inbox], heartbeat_interval=120)
            answer["at"] = time.monotonic()

        holder = threading.Thread(target=hold)
        holder.start()
        time.sleep(1.0)  # the Ping is in flight and held
        with smtplib.SMTP("127.0.0.1", host.smtp_port, timeout=15) as smtp:
            smtp.sendmail("carol@fabrikam.com", ["alice@contoso.com"],
                          b"From: carol@fabrikam.com\r\nTo: alice@contoso.com\r\nSubject: Push me\r\n\r\nNow.\r\n")
        delivered = time.monotonic()
        holder.join(30)
        assert answer["reply"].status == 2 and inbox in answer["reply"].changed
        assert answer["at"] - delivered < 1.0
        new = alice.sync(inbox)
        assert [i.field("Email:Subject") for i in new.added] == ["Push me"]

        # move one item, delete another
        alice.folder_sync()
        deleted_items = alice.state.folders_of_type(FolderType.DELETED_ITEMS)[0].server_id
        moved, doomed = items[inbox][0].server_id, items[inbox][1].server_id
        result = alice.move_items(MoveRequest(moved, inbox, deleted_items)).results[0]
        assert result.status == 3 and result.dst_msg_id
        reply = alice.sync(inbox, commands=[Delete(doomed)])
        assert all(r.status in (None, 1) for r in getattr(reply, "responses", []))
        after = alice.sync_all([FolderType.INBOX], window_size=512)
        remaining = {i.server_id for i in after.get(inbox, [])}
        assert moved not in remaining and doomed not in remaining

        # SendMail reaches bob
        alice.send_mail(b"From: alice@contoso.com\r\nTo: bob@contoso.com\r\nSubject: Lunch on Friday?\r\n\r\n12:30?\r\n")
    with phone(host, "CONTOSO\\bob") as bob:
        subjects = [i.field("Email:Subject") for i in bob.sync_all([FolderType.INBOX])[inbox_of(bob)]]
        assert "Lunch on Friday?" in subjects
