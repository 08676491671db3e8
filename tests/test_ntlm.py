"""Real NTLM and Negotiate handshakes between pyspnego's initiator and the lab's acceptor."""
from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest
import spnego

from host.directory import DEMO_PASSWORD, Directory
from host.errors import ERROR_LOGON_FAILURE, SEC_E_INVALID_TOKEN
from host.ntlm import ERROR_ACCOUNT_DISABLED, NtlmAcceptor, NtlmLogonError

SCHEMES = [("NTLM", "ntlm"), ("Negotiate", "negotiate")]


@pytest.fixture(autouse=True)
def restore_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The acceptor sets process-global variables; give each test a clean slate."""
    monkeypatch.delenv("NTLM_USER_FILE", raising=False)
    monkeypatch.delenv("LM_COMPAT_LEVEL", raising=False)


@pytest.fixture
def directory(tmp_path: Path) -> Directory:
    return Directory.open(tmp_path)


def handshake(acceptor: NtlmAcceptor, username: str, password: str, protocol: str) -> spnego.ContextProxy:
    """Run the legs as a browser would, one token per request; bounded like any real client."""
    client = spnego.client(username, password, protocol=protocol)
    token = client.step()
    for _ in range(4):
        reply = acceptor.step(token)
        if acceptor.complete:
            if reply:
                client.step(reply)
            return client
        token = client.step(reply)
    raise AssertionError("handshake did not finish in 4 legs")


@pytest.mark.parametrize("scheme, protocol", SCHEMES)
@pytest.mark.parametrize(
    "username", ["CONTOSO\\alice", "alice@contoso.com", "contoso.com\\ALICE", "Alice@Contoso.com", "alice"]
)
def test_alice_logs_on_with_every_name_form(directory: Directory, scheme: str, protocol: str, username: str) -> None:
    acceptor = NtlmAcceptor(directory, scheme)
    client = handshake(acceptor, username, DEMO_PASSWORD, protocol)
    assert acceptor.complete
    assert acceptor.user is not None and acceptor.user.logon_name == "CONTOSO\\alice"
    assert acceptor.user.primary_smtp == "alice@contoso.com"
    assert client.complete


def test_the_first_leg_returns_an_ntlm_challenge(directory: Directory) -> None:
    acceptor = NtlmAcceptor(directory, "NTLM")
    challenge = acceptor.step(spnego.client("CONTOSO\\alice", DEMO_PASSWORD, protocol="ntlm").step())
    assert challenge is not None and challenge[:12] == b"NTLMSSP\x00\x02\x00\x00\x00"
    assert not acceptor.complete and acceptor.user is None


def test_negotiate_sends_a_final_token_that_completes_the_client(directory: Directory) -> None:
    acceptor = NtlmAcceptor(directory, "Negotiate")
    client = spnego.client("CONTOSO\\bob", DEMO_PASSWORD, protocol="negotiate")
    token = acceptor.step(client.step())
    final = acceptor.step(client.step(token))
    assert acceptor.user.logon_name == "CONTOSO\\bob"
    assert final, "SPNEGO ends with an accept-completed token for the client"
    client.step(final)
    assert client.complete


@pytest.mark.parametrize("scheme, protocol", SCHEMES)
def test_wrong_password_is_a_logon_failure(directory: Directory, scheme: str, protocol: str) -> None:
    with pytest.raises(NtlmLogonError) as failure:
        handshake(NtlmAcceptor(directory, scheme), "CONTOSO\\alice", "p@ssw0rd", protocol)
    assert failure.value.win32 == ERROR_LOGON_FAILURE == 1326
    assert "CONTOSO\\alice" in failure.value.reason


def test_unknown_user_is_a_logon_failure_naming_the_user(directory: Directory) -> None:
    with pytest.raises(NtlmLogonError) as failure:
        handshake(NtlmAcceptor(directory, "NTLM"), "CONTOSO\\carol", DEMO_PASSWORD, "ntlm")
    assert failure.value.win32 == ERROR_LOGON_FAILURE
    assert failure.value.reason == "unknown user CONTOSO\\carol"


def test_disabled_account_cannot_log_on(directory: Directory) -> None:
    directory.update_user("alice", account_enabled=False)
    with pytest.raises(NtlmLogonError) as failure:
        handshake(NtlmAcceptor(directory, "Negotiate"), "alice@contoso.com", DEMO_PASSWORD, "negotiate")
    assert failure.value.win32 == ERROR_ACCOUNT_DISABLED
    assert "CONTOSO\\alice is disabled" in failure.value.reason


@pytest.mark.parametrize("scheme", ["NTLM", "Negotiate"])
@pytest.mark.parametrize("garbage", [b"garbage", b"NTLMSSP\x00\x01\x00\x00\x00", b"\x60\x03\x06\x01\x00", b""])
def test_garbage_first_leg_is_an_invalid_token(directory: Directory, scheme: str, garbage: bytes) -> None:
    with pytest.raises(NtlmLogonError) as failure:
        NtlmAcceptor(directory, scheme).step(garbage)
    assert failure.value.win32 == SEC_E_INVALID_TOKEN


@pytest.mark.parametrize("scheme, protocol", SCHEMES)
def test_garbage_second_leg_is_an_invalid_token(directory: Directory, scheme: str, protocol: str) -> None:
    acceptor = NtlmAcceptor(directory, scheme)
    acceptor.step(spnego.client("CONTOSO\\alice", DEMO_PASSWORD, protocol=protocol).step())
    with pytest.raises(NtlmLogonError) as failure:
        acceptor.step(b"\x00" * 40)
    assert failure.value.win32 == SEC_E_INVALID_TOKEN
    assert acceptor.user is None


def test_a_changed_password_takes_effect_on_the_next_handshake(directory: Directory) -> None:
    handshake(NtlmAcceptor(directory, "NTLM"), "CONTOSO\\alice", DEMO_PASSWORD, "ntlm")
    directory.set_password("CONTOSO\\alice", "N3w-secret")
    with pytest.raises(NtlmLogonError):
        handshake(NtlmAcceptor(directory, "NTLM"), "CONTOSO\\alice", DEMO_PASSWORD, "ntlm")
    acceptor = NtlmAcceptor(directory, "NTLM")
    handshake(acceptor, "CONTOSO\\alice", "N3w-secret", "ntlm")
    assert acceptor.user.logon_name == "CONTOSO\\alice"


def test_a_user_added_by_another_directory_handle_can_log_on(directory: Directory) -> None:
    """The CLI writes through its own handle; the host's acceptor sees the user at once."""
    Directory.open(directory.data_dir).add_user("carol", "C4rol!")
    acceptor = NtlmAcceptor(directory, "Negotiate")
    handshake(acceptor, "carol@contoso.com", "C4rol!", "negotiate")
    assert acceptor.user.logon_name == "CONTOSO\\carol"


def test_each_acceptor_checks_its_own_directory(tmp_path: Path) -> None:
    first = Directory.open(tmp_path / "first")
    second = Directory.open(tmp_path / "second")
    second.set_password("alice", "Only-in-second")
    acceptor_first = NtlmAcceptor(first, "NTLM")
    NtlmAcceptor(second, "NTLM")  # repoints NTLM_USER_FILE
    handshake(acceptor_first, "CONTOSO\\alice", DEMO_PASSWORD, "ntlm")
    assert os.environ["NTLM_USER_FILE"] == str(first.ntlm_user_file)


def test_the_connection_cannot_be_authenticated_twice(directory: Directory) -> None:
    acceptor = NtlmAcceptor(directory, "NTLM")
    handshake(acceptor, "CONTOSO\\alice", DEMO_PASSWORD, "ntlm")
    with pytest.raises(NtlmLogonError) as failure:
        acceptor.step(spnego.client("CONTOSO\\bob", DEMO_PASSWORD, protocol="ntlm").step())
    assert failure.value.win32 == SEC_E_INVALID_TOKEN
    assert acceptor.user.logon_name == "CONTOSO\\alice"


# -- LmCompatibilityLevel --------------------------------------------------------


def forged_lm_only_authenticate(challenge: bytes, domain: str, user: str) -> bytes:
    """An AUTHENTICATE message with no NT response and an LM response anyone can compute.

    With extended session security the expected LM response is the client
    challenge followed by 16 zero bytes; no password is involved.
    """
    flags = struct.unpack_from("<I", challenge, 20)[0]
    lm = os.urandom(8) + bytes(16)
    domain_bytes, user_bytes = domain.encode("utf-16-le"), user.encode("utf-16-le")
    payload = lm + domain_bytes + user_bytes
    offset = 64

    def field(data: bytes, at: int) -> bytes:
        return struct.pack("<HHI", len(data), len(data), at)

    header = (
        b"NTLMSSP\x00"
        + struct.pack("<I", 3)
        + field(lm, offset)
        + field(b"", offset + len(lm))
        + field(domain_bytes, offset + len(lm))
        + field(user_bytes, offset + len(lm) + len(domain_bytes))
        + field(b"", offset + len(payload))
        + field(b"", offset + len(payload))
        + struct.pack("<I", flags)
    )
    return header + payload


@pytest.mark.parametrize("level", [4, 5])
def test_a_forged_lm_only_response_does_not_log_on(directory: Directory, level: int) -> None:
    acceptor = NtlmAcceptor(directory, "NTLM", lm_compatibility_level=level)
    challenge = acceptor.step(spnego.client("CONTOSO\\alice", "unknown", protocol="ntlm").step())
    with pytest.raises(NtlmLogonError) as failure:
        acceptor.step(forged_lm_only_authenticate(challenge, "CONTOSO", "alice"))
    assert failure.value.win32 == ERROR_LOGON_FAILURE
    assert acceptor.user is None


def test_ntlmv1_clients_are_refused_at_level_5_and_accepted_at_level_4(
    directory: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    def ntlmv1_client() -> spnego.ContextProxy:
        monkeypatch.setenv("LM_COMPAT_LEVEL", "1")  # read once, when the initiator is created
        return spnego.client("CONTOSO\\alice", DEMO_PASSWORD, protocol="ntlm")

    strict = NtlmAcceptor(directory, "NTLM")
    client = ntlmv1_client()
    challenge = strict.step(client.step())
    with pytest.raises(NtlmLogonError) as failure:
        strict.step(client.step(challenge))
    assert failure.value.win32 == ERROR_LOGON_FAILURE

    lenient = NtlmAcceptor(directory, "NTLM", lm_compatibility_level=4)
    client = ntlmv1_client()
    challenge = lenient.step(client.step())
    lenient.step(client.step(challenge))
    assert lenient.user.logon_name == "CONTOSO\\alice"


@pytest.mark.parametrize("level", [0, 2, 3, 6])
def test_levels_that_would_accept_lm_responses_are_refused(directory: Directory, level: int) -> None:
    with pytest.raises(ValueError, match="LmCompatibilityLevel"):
        NtlmAcceptor(directory, "NTLM", lm_compatibility_level=level)


def test_unknown_scheme_is_refused(directory: Directory) -> None:
    with pytest.raises(ValueError, match="Kerberos"):
        NtlmAcceptor(directory, "Kerberos")
