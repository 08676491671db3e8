"""The lab directory as an admin and the host see it: users, names, hashes, the NTLM file."""
from __future__ import annotations

import sqlite3
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from host.directory import DEMO_PASSWORD, Directory, DirectoryError, nt_hash

SECRET = "Tr0ub4dor&3-unique"


@pytest.fixture
def directory(tmp_path: Path) -> Directory:
    return Directory.open(tmp_path)


def ntlm_names(directory: Directory) -> dict[str, str]:
    """logon name in the NTLM file -> NT hash (hex)."""
    lines = directory.ntlm_user_file.read_text().splitlines()
    return {line.split(":")[0].casefold(): line.split(":")[3] for line in lines}


# -- creation and seeding ----------------------------------------------------


def test_first_open_seeds_contoso_with_alice_and_bob(directory: Directory) -> None:
    assert directory.domains() == [("CONTOSO", "contoso.com")]
    assert directory.default_domain == "CONTOSO"
    alice, bob = directory.users()
    assert (alice.logon_name, alice.display_name, alice.primary_smtp) == (
        "CONTOSO\\alice", "Alice Wood", "alice@contoso.com",
    )
    assert (bob.logon_name, bob.primary_smtp, bob.upn) == ("CONTOSO\\bob", "bob@contoso.com", "bob@contoso.com")
    assert alice.home_server == "EXCHANGE01" and alice.activesync_enabled and alice.account_enabled
    assert directory.verify_password("CONTOSO\\alice", DEMO_PASSWORD) == alice


def test_seeding_happens_once_so_a_deleted_demo_user_stays_deleted(tmp_path: Path) -> None:
    Directory.open(tmp_path).remove_user("alice")
    reopened = Directory.open(tmp_path)
    assert [u.logon_name for u in reopened.users()] == ["CONTOSO\\bob"]


def test_seed_demo_false_creates_an_empty_directory(tmp_path: Path) -> None:
    directory = Directory.open(tmp_path, seed_demo=False)
    assert directory.users() == [] and directory.domains() == []
    directory.add_domain("fabrikam", "Fabrikam.COM")
    assert directory.domains() == [("FABRIKAM", "fabrikam.com")]
    assert directory.add_user("dan", "pw").logon_name == "FABRIKAM\\dan"
    assert Directory.open(tmp_path).users()[0].primary_smtp == "dan@fabrikam.com"


def test_reopen_keeps_users_addresses_and_passwords(tmp_path: Path) -> None:
    first = Directory.open(tmp_path, default_home_server="MBX02")
    first.add_user("carol", SECRET, display_name="Carol Diaz", smtp=["carol@contoso.com", "cd@contoso.com"])
    first.update_user("bob", activesync_enabled=False)
    again = Directory.open(tmp_path)
    carol = again.find("CONTOSO\\carol")
    assert carol is not None
    assert (carol.display_name, carol.home_server) == ("Carol Diaz", "MBX02")
    assert carol.smtp_addresses() == ["carol@contoso.com", "cd@contoso.com"]
    assert again.verify_password("carol", SECRET) == carol
    assert again.find("bob").activesync_enabled is False


def test_a_database_from_a_newer_easlab_is_refused(tmp_path: Path) -> None:
    Directory.open(tmp_path)
    with sqlite3.connect(tmp_path / "directory.db") as db:
        db.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(DirectoryError, match="schema version 99"):
        Directory.open(tmp_path)


# -- secrets at rest ---------------------------------------------------------


def test_passwords_never_reach_the_disk_only_nt_hashes_do(tmp_path: Path) -> None:
    directory = Directory.open(tmp_path)
    directory.add_user("carol", SECRET)
    directory.set_password("alice", SECRET + "-new")
    files = [p for p in tmp_path.iterdir() if p.is_file()]
    assert {p.name for p in files} >= {"directory.db", "ntlm_users"}
    for password in (SECRET, SECRET + "-new", DEMO_PASSWORD):
        for encoded in (password.encode("utf-8"), password.encode("utf-16-le")):
            for path in files:
                assert encoded not in path.read_bytes(), f"{password!r} found in {path.name}"
    assert ntlm_names(directory)["contoso\\carol"] == nt_hash(SECRET).hex().upper()


def test_database_and_ntlm_file_are_readable_by_the_owner_only(directory: Directory) -> None:
    directory.add_user("carol", SECRET)
    for path in (directory.path, directory.ntlm_user_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


def test_nt_hash_is_md4_of_utf16le() -> None:
    # The well-known NT hash of "P@ssw0rd".
    assert nt_hash("P@ssw0rd").hex() == "e19ccf75ee54e06b06a5907af13cef42"


# -- names and passwords -------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["CONTOSO\\alice", "contoso\\ALICE", "contoso.com\\alice", "alice@contoso.com", "Alice@Contoso.Com", "alice"]
)
def test_verify_password_accepts_every_logon_name_form(directory: Directory, name: str) -> None:
    user = directory.verify_password(name, DEMO_PASSWORD)
    assert user is not None and user.logon_name == "CONTOSO\\alice"


def test_wrong_password_disabled_account_and_unknown_user_all_fail(directory: Directory) -> None:
    assert directory.verify_password("alice", "p@ssw0rd") is None
    assert directory.verify_password("carol", DEMO_PASSWORD) is None
    assert directory.verify_password("FABRIKAM\\alice", DEMO_PASSWORD) is None
    directory.update_user("alice", account_enabled=False)
    assert directory.verify_password("alice", DEMO_PASSWORD) is None
    directory.update_user("alice", account_enabled=True)
    assert directory.verify_password("alice", DEMO_PASSWORD) is not None


def test_set_password_replaces_the_old_one(directory: Directory) -> None:
    before = directory.find("alice").password_last_set
    directory.set_password("alice", SECRET)
    assert directory.verify_password("alice", DEMO_PASSWORD) is None
    assert directory.verify_password("alice", SECRET) is not None
    assert directory.find("alice").password_last_set >= before


def test_bare_names_resolve_in_the_given_or_default_domain(directory: Directory) -> None:
    directory.add_domain("FABRIKAM", "fabrikam.com")
    directory.add_user("FABRIKAM\\alice", SECRET)
    assert directory.find("alice").logon_name == "CONTOSO\\alice"
    assert directory.find("alice", default_domain="FABRIKAM").logon_name == "FABRIKAM\\alice"
    assert directory.find("alice", default_domain="fabrikam.com").primary_smtp == "alice@fabrikam.com"
    assert directory.verify_password("alice", SECRET, default_domain="FABRIKAM") is not None
    assert directory.verify_password("alice", SECRET) is None


def test_explicit_upn_and_implicit_upn_both_log_on(directory: Directory) -> None:
    directory.update_user("alice", upn="alice.wood@contoso.com")
    assert directory.find("alice.wood@contoso.com").logon_name == "CONTOSO\\alice"
    assert directory.find("alice@contoso.com").logon_name == "CONTOSO\\alice"
    names = ntlm_names(directory)
    assert "alice.wood@contoso.com" in names and "alice@contoso.com" in names


def test_explicit_upn_wins_over_another_users_implicit_upn(directory: Directory) -> None:
    directory.update_user("bob", upn="robert@contoso.com")
    directory.update_user("alice", upn="bob@contoso.com")
    assert directory.find("bob@contoso.com").logon_name == "CONTOSO\\alice"
    lines = directory.ntlm_user_file.read_text().splitlines()
    matching = [line for line in lines if line.split(":")[0].casefold() == "bob@contoso.com"]
    assert matching and matching[0].split(":")[3] == nt_hash(DEMO_PASSWORD).hex().upper()
    assert len(matching) == 1


def test_upn_must_be_unique(directory: Directory) -> None:
    with pytest.raises(DirectoryError, match=r"userPrincipalName bob@contoso.com already belongs to CONTOSO\\bob"):
        directory.add_user("carol", "pw", upn="BOB@contoso.com")


@pytest.mark.parametrize("logon", ["car:ol", "a" * 21, "c\\a\\b", "x[1]", "..."])
def test_invalid_sam_account_names_are_refused(directory: Directory, logon: str) -> None:
    with pytest.raises(DirectoryError):
        directory.add_user(logon, "pw")


def test_unknown_user_and_domain_errors_name_the_object(directory: Directory) -> None:
    with pytest.raises(DirectoryError, match=r"^no such user CONTOSO\\carol$"):
        directory.set_password("carol", "pw")
    with pytest.raises(DirectoryError, match=r"no such domain FABRIKAM; known domains: CONTOSO"):
        directory.add_user("FABRIKAM\\carol", "pw")
    with pytest.raises(DirectoryError, match=r"user CONTOSO\\alice already exists"):
        directory.add_user("ALICE", "pw")
    with pytest.raises(DirectoryError, match="unknown user attribute homeMDB"):
        directory.update_user("alice", homeMDB="X")


# -- proxy addresses -----------------------------------------------------------


def test_find_by_smtp_matches_any_proxy_address_case_insensitively(directory: Directory) -> None:
    directory.update_user(
        "alice", proxy_addresses=["SMTP:alice@contoso.com", "smtp:alice.wood@contoso.com", "X500:/o=Contoso/cn=alice"]
    )
    assert directory.find_by_smtp("Alice.Wood@CONTOSO.com").logon_name == "CONTOSO\\alice"
    assert directory.find_by_smtp("smtp:alice@contoso.com").logon_name == "CONTOSO\\alice"
    assert directory.find_by_smtp("/o=Contoso/cn=alice") is None
    assert directory.find_by_smtp("carol@contoso.com") is None
    assert directory.find("alice").smtp_addresses() == ["alice@contoso.com", "alice.wood@contoso.com"]


def test_a_proxy_address_belongs_to_one_user_only(directory: Directory) -> None:
    with pytest.raises(DirectoryError, match=r"^proxy address bob@contoso.com already belongs to CONTOSO\\bob$"):
        directory.add_user("carol", "pw", smtp=["carol@contoso.com", "BOB@contoso.com"])
    assert directory.find("carol") is None
    with pytest.raises(DirectoryError, match=r"already belongs to CONTOSO\\bob"):
        directory.update_user("alice", proxy_addresses=["SMTP:alice@contoso.com", "smtp:bob@contoso.com"])
    assert directory.find("alice").proxy_addresses == ("SMTP:alice@contoso.com",)


@pytest.mark.parametrize(
    "addresses, message",
    [
        (["smtp:alice@contoso.com"], "no primary SMTP address"),
        (["SMTP:alice@contoso.com", "SMTP:a@contoso.com"], "two primary SMTP addresses"),
        (["SMTP:alice@contoso.com", "smtp:ALICE@contoso.com"], "listed twice"),
        (["SMTP:not-an-address"], "invalid SMTP address"),
        (["alice@contoso.com"], "expected TYPE:address"),
    ],
)
def test_proxy_addresses_need_exactly_one_primary_smtp(directory: Directory, addresses: list[str], message: str) -> None:
    with pytest.raises(DirectoryError, match=message):
        directory.update_user("alice", proxy_addresses=addresses)
    assert directory.find("alice").primary_smtp == "alice@contoso.com"


# -- the NTLM credential file ------------------------------------------------


def test_ntlm_file_follows_add_passwd_disable_and_remove(directory: Directory) -> None:
    names = ntlm_names(directory)
    assert names["contoso\\alice"] == nt_hash(DEMO_PASSWORD).hex().upper()
    assert {"contoso\\alice", "contoso.com\\alice", "alice@contoso.com", "alice"} <= set(names)

    directory.add_user("carol", "first")
    assert ntlm_names(directory)["contoso\\carol"] == nt_hash("first").hex().upper()

    directory.set_password("carol", "second")
    assert ntlm_names(directory)["carol@contoso.com"] == nt_hash("second").hex().upper()

    directory.update_user("carol", account_enabled=False)
    assert not any("carol" in name for name in ntlm_names(directory))

    directory.update_user("carol", account_enabled=True)
    assert "contoso\\carol" in ntlm_names(directory)

    directory.remove_user("carol")
    assert not any("carol" in name for name in ntlm_names(directory))
    assert "contoso\\bob" in ntlm_names(directory)


def test_ntlm_file_lines_are_smbpasswd_lines_pyspnego_can_parse(directory: Directory) -> None:
    for line in directory.ntlm_user_file.read_text().splitlines():
        name, uid, lm, nt, flags, lct = line.split(":")
        assert uid.isdigit() and flags == "[U          ]" and lct.startswith("LCT-")
        assert bytes.fromhex(lm) and len(bytes.fromhex(nt)) == 16


def test_a_failed_write_leaves_database_and_file_unchanged(directory: Directory) -> None:
    before = directory.ntlm_user_file.read_bytes()
    with pytest.raises(DirectoryError):
        directory.add_user("carol", "pw", smtp=["bob@contoso.com"])
    assert directory.ntlm_user_file.read_bytes() == before
    assert directory.find("carol") is None


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    """The host and the CLI share the directory: concurrent writers serialise, the file ends in step."""
    Directory.open(tmp_path)
    script = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from host.directory import Directory
        directory = Directory.open(Path(sys.argv[1]))
        for n in range(15):
            directory.add_user(f"{sys.argv[2]}{n}", "pw")
        """
    )
    workers = [
        subprocess.Popen([sys.executable, "-c", script, str(tmp_path), prefix], cwd=Path(__file__).parents[1])
        for prefix in ("east", "west")
    ]
    assert [w.wait(timeout=60) for w in workers] == [0, 0]
    directory = Directory.open(tmp_path)
    sams = {u.sam_account_name for u in directory.users()}
    expected = {f"{p}{n}" for p in ("east", "west") for n in range(15)}
    assert expected <= sams
    assert {f"contoso\\{s}" for s in expected} <= set(ntlm_names(directory))
