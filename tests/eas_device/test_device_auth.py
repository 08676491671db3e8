"""Basic and NTLM authentication as a device performs them (MS-ASHTTP 2.2.1.1.2.2, MS-NLMP)."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from Crypto.Hash import MD4

from device import BasicAuth, HttpFailure, NtlmAuth
from eas_fakes import STANDARD_FOLDERS, FakeEasServer, folder_sync_reply, open_session  # noqa: F401 (fixture)

PASSWORD = "Sommer2006!"


@pytest.fixture
def ntlm_users(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pyspnego's acceptor checks NT hashes from an smbpasswd-format file (NTLM_USER_FILE)."""
    nt_hash = MD4.new(PASSWORD.encode("utf-16-le")).hexdigest().upper()
    users = tmp_path / "ntlm_users"
    users.write_text(f"CONTOSO\\alice:1000:AAD3B435B51404EEAAD3B435B51404EE:{nt_hash}:[U          ]:LCT-00000000\n")
    monkeypatch.setenv("NTLM_USER_FILE", str(users))


@pytest.fixture
def ntlm_server(ntlm_users: None) -> Iterator[FakeEasServer]:
    with FakeEasServer(auth="ntlm") as server:
        server.on("FolderSync", folder_sync_reply("1", *STANDARD_FOLDERS), folder_sync_reply("2"))
        yield server


def test_ntlm_handshake_runs_once_on_the_keep_alive_connection(ntlm_server, open_session) -> None:
    phone = open_session(ntlm_server.url, auth=NtlmAuth("CONTOSO\\alice", PASSWORD))
    first = phone.folder_sync()
    second = phone.folder_sync()
    assert ntlm_server.ntlm_users == ["CONTOSO\\alice"], "one handshake for the whole session"
    assert first.response.auth_legs == 2 and second.response.auth_legs == 0
    legs = ntlm_server.auth_legs
    assert len(legs) == 1 and legs[0].headers["authorization"].startswith("NTLM TlRMTVNTUAAB")  # type 1
    connections = {r.connection for r in legs + ntlm_server.requests}
    assert len(connections) == 1, "negotiate, authenticate and the commands share one TCP connection"
    assert "authorization" not in ntlm_server.requests[-1].headers, "an authenticated connection needs no header"


def test_ntlm_with_a_wrong_password_reports_the_401(ntlm_server, open_session) -> None:
    phone = open_session(ntlm_server.url, auth=NtlmAuth("CONTOSO\\alice", "wrong"))
    with pytest.raises(HttpFailure) as failure:
        phone.folder_sync()
    assert failure.value.status == 401
    assert failure.value.headers.get_all("WWW-Authenticate") == ["NTLM"]
    assert ntlm_server.requests == []


def test_basic_credentials_go_with_every_request(open_session) -> None:
    with FakeEasServer(auth="basic", basic_credentials=("CONTOSO\\alice", PASSWORD)) as server:
        server.on("FolderSync", folder_sync_reply("1"))
        phone = open_session(server.url, auth=BasicAuth("CONTOSO\\alice", PASSWORD))
        phone.options()
        phone.folder_sync()
        assert [r.headers["authorization"] for r in server.requests] == [
            BasicAuth("CONTOSO\\alice", PASSWORD).header()] * 2
        refused = open_session(server.url, auth=BasicAuth("alice@contoso.com", "wrong"))
        with pytest.raises(HttpFailure) as failure:
            refused.folder_sync()
        assert failure.value.status == 401 and failure.value.headers["WWW-Authenticate"] == 'Basic realm="lab"'
