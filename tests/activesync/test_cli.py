"""``python -m host activesync``: partnerships (Get/Clear/Remove-ActiveSyncDevice) and the mailbox log."""
from __future__ import annotations

from .conftest import run_cli as _cli


def test_device_list_show_and_remove(eas_lab, capsys):
    lab = eas_lab("Exchange 2007 SP1")
    phone = lab.client(version="12.1", device_id="PHONE7", device_type="SmartPhone", user_agent="MSFT-SPhone/5.2")
    phone.folder_sync()
    lab.client(version="12.1", device_id="PDA9").folder_sync()
    capsys.readouterr()
    assert _cli(lab, "activesync", "device", "list") == 0
    listing = capsys.readouterr().out
    assert "PHONE7" in listing and "PDA9" in listing and "2 partnership(s)" in listing
    assert _cli(lab, "activesync", "device", "show", "phone7") == 0
    shown = capsys.readouterr().out
    assert "MSFT-SPhone/5.2" in shown and "SmartPhone" in shown and "CONTOSO\\alice" in shown
    assert _cli(lab, "activesync", "device", "remove", "PHONE7") == 0
    capsys.readouterr()
    _cli(lab, "activesync", "device", "list", "--user", "alice")
    assert "PHONE7" not in capsys.readouterr().out
    # a removed device starts over: its old FolderSync key is gone
    assert phone.folder_sync("1").text("fh:Status") == "9"


def test_unknown_device_is_one_line_and_non_zero(eas_lab, capsys):
    lab = eas_lab("Exchange 2007 SP1")
    assert _cli(lab, "activesync", "device", "wipe", "NOSUCH") == 1
    assert "no partnership" in capsys.readouterr().err


def test_mailbox_log_records_decoded_requests_with_credentials_masked(eas_lab, capsys):
    lab = eas_lab("Exchange 2007 SP1")
    device = lab.client(version="12.1")
    device.folder_sync()
    assert _cli(lab, "activesync", "mailboxlog", "alice", "show") == 0
    assert "is off" in capsys.readouterr().out
    assert _cli(lab, "activesync", "mailboxlog", "alice", "on") == 0
    device.folder_sync()
    capsys.readouterr()
    assert _cli(lab, "activesync", "mailboxlog", "alice", "show") == 0
    log = capsys.readouterr().out
    assert "<FolderSync" in log and "<SyncKey>0</SyncKey>" in log and "<DisplayName>Inbox</DisplayName>" in log
    assert "Basic ********" in log and "UEBzc3cwcmQ" not in log and "Q09OVE9TT1xhbGljZ" not in log
    assert _cli(lab, "activesync", "mailboxlog", "alice", "off") == 0
