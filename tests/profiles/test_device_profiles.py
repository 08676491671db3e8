"""Each device profile against a real host: what tells one phone from another, seen from outside.

Every run is ``python -m host device run`` against ``python -m host serve``
through the lab DNS; certificates are issued with ``cert issue-server`` and
switched with ``adsutil set W3SVC/1/SSLCertHash`` while the host runs.
Device runs sync the Inbox (``--sync Inbox``) because they are about
certificates, protocol versions and authentication, not about item classes.
"""
from __future__ import annotations

import pytest

from device.profiles import DeviceSettings, DeviceSettingsError, load_profile, profile_names
from host.regfile import Registry, RegType, set_value
from tests.profiles.device_lab import EAS, EMAIL, DeviceLab, persona

pytestmark = pytest.mark.realserver
INBOX = ("--sync", "Inbox")


@pytest.fixture(scope="module")
def labs(tmp_path_factory):
    """``labs(name, values)``: one started host per name for the whole module."""
    started: dict[str, DeviceLab] = {}

    def get(name: str, values=()) -> DeviceLab:
        if name not in started:
            started[name] = DeviceLab(tmp_path_factory.mktemp(name), values).start()
        return started[name]

    yield get
    for lab in started.values():
        lab.stop()


def device_ini(lab: DeviceLab, profile: str):
    return lab.host.data / "devices" / profile / "device.ini"


def set_device_value(lab: DeviceLab, profile: str, key: str, name: str, data: int) -> None:
    path = device_ini(lab, profile)
    path.write_text(set_value(path.read_text(encoding="utf-8"), key, name, RegType.REG_DWORD, data), encoding="utf-8")


def test_every_profile_is_its_own_phone():
    profiles = [load_profile(name) for name in profile_names()]
    assert {"wm2003", "wm5", "wm6", "iphone-ios4", "ios", "android"} <= {p.name for p in profiles}
    assert len({p.user_agent for p in profiles}) == len(profiles)
    assert {p.name for p in profiles if not p.wildcard_names} == {"wm2003", "wm5"}


# --- the default host: the lab's own certificate, issued by the lab root -------------------


def test_a_device_without_the_lab_root_fails_with_0x80072F0D(labs):
    lab = labs("default")
    result = lab.device("wm5", *INBOX)
    assert result.returncode == 1
    assert "[FAIL] OPTIONS" in result.stdout and "TLS untrusted root" in result.stdout
    assert "The security certificate on the server is not valid." in result.stdout
    assert "Support code: 0x80072F0D" in result.stdout
    iphone = lab.device("iphone-ios4", *INBOX)
    assert iphone.returncode == 1
    assert 'Cannot Verify Server Identity. The identity of "mail.contoso.com" cannot be verified by iPhone.' \
        in iphone.stdout and "Support code" not in iphone.stdout
    assert not [row for row in lab.host.w3c() if "MSFT-PPC" in row.get("cs(User-Agent)", "")], \
        "a refused handshake must leave no IIS log line"


def test_windows_mobile_5_provisions_syncs_and_pings_once_the_root_is_added(labs):
    lab = labs("default")
    lab.trust("wm5")
    result = lab.device("wm5", *INBOX)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "device speaks 1.0,2.0,2.1,2.5 and uses 2.5" in result.stdout
    assert "checked against the device's root store" in result.stdout
    assert "[ OK ] Provision" in result.stdout and "[ OK ] Ping" in result.stdout
    assert "Status 1, the heartbeat expired without changes" in result.stdout
    logged = [row for row in lab.host.w3c() if "MSFT-PPC/5.1.2100" in row.get("cs(User-Agent)", "")]
    assert {row["cs-method"] for row in logged} == {"OPTIONS", "POST"}
    assert all("DeviceType=PocketPC" in row["cs-uri-query"] for row in logged if row["cs-method"] == "POST")


# --- a wildcard certificate: *.contoso.com ----------------------------------------------------


@pytest.fixture(scope="module")
def wildcard_lab(labs):
    lab = labs("wildcard")
    lab.use_certificate(lab.issue("*.contoso.com"))
    for profile in ("wm5", "wm6", "ios"):
        lab.trust(profile)
    return lab


def test_windows_mobile_5_refuses_a_wildcard_certificate_that_current_ios_accepts(wildcard_lab):
    wm5 = wildcard_lab.device("wm5", *INBOX)
    assert wm5.returncode == 1
    assert "TLS name mismatch: the device refused the certificate for mail.contoso.com (names: *.contoso.com)" \
        in wm5.stdout
    assert "Support code: 0x80072F06" in wm5.stdout
    ios = wildcard_lab.device("ios", *INBOX)
    assert ios.returncode == 0, ios.stdout + ios.stderr
    assert "Synchronization complete." in ios.stdout


def test_windows_mobile_6_accepts_the_wildcard_and_finds_its_server_with_autodiscover(wildcard_lab):
    result = wildcard_lab.device("wm6", "--email", EMAIL, *INBOX)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[ OK ] Autodiscover" in result.stdout
    assert "server address: https://exchange01.contoso.com:" in result.stdout
    assert "uses 2.5" in result.stdout


def test_windows_mobile_5_has_no_autodiscover(wildcard_lab):
    result = wildcard_lab.device("wm5", "--email", EMAIL, *INBOX)
    assert result.returncode == 1
    assert "[FAIL] Autodiscover" in result.stdout and "enter the server address" in result.stdout


# --- a certificate from a root no device trusts -----------------------------------------------


@pytest.fixture(scope="module")
def untrusted_lab(labs):
    lab = labs("untrusted")
    lab.use_certificate(lab.issue("mail.contoso.com", "--untrusted"))
    return lab


def test_windows_mobile_2003_with_disablecertchk_connects_to_an_untrusted_certificate(untrusted_lab):
    lab = untrusted_lab
    lab.trust("wm2003")  # the lab root does not help: the certificate comes from another root
    refused = lab.device("wm2003", *INBOX)
    assert refused.returncode == 1 and "Error: Internet_45" in refused.stdout
    set_device_value(lab, "wm2003", r"HKEY_LOCAL_MACHINE\Software\Microsoft\ActiveSync", "DisableCertChk", 1)
    accepted = lab.device("wm2003", *INBOX)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "NOT checked: certificate checks are OFF" in accepted.stdout and "insecure" in accepted.stdout
    assert "device.ini:" in accepted.stdout
    assert "uses 2.1" in accepted.stdout  # no MSFP: no 2.5, so no Provision and no Ping
    assert "[SKIP] Provision" in accepted.stdout and "[SKIP] Ping" in accepted.stdout


def test_windows_mobile_5_secure_0_switches_off_every_check_and_is_reported_insecure(untrusted_lab):
    lab = untrusted_lab
    assert lab.device("wm5", *INBOX).returncode == 1
    registry = Registry.from_file(device_ini(lab, "wm5"))
    partner = next(key.path for key in registry.keys() if "\\Partners\\" in key.path)
    set_device_value(lab, "wm5", partner, "secure", 0)
    result = lab.device("wm5", *INBOX)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "NOT checked" in result.stdout and f"{partner}\\secure=0" in result.stdout


# --- client certificates negotiated on the EAS vdir ("accept") ---------------------------------


def test_a_device_that_cannot_renegotiate_breaks_off_when_the_vdir_accepts_client_certificates(labs):
    lab = labs("accept", [(EAS, "AccessSSLFlags", RegType.REG_DWORD, 0x20)])
    for profile in ("wm5", "ios"):
        lab.trust(profile)
    wm5 = lab.device("wm5", *INBOX)
    assert wm5.returncode == 1
    assert "[FAIL] OPTIONS" in wm5.stdout and "closed the connection without a response" in wm5.stdout
    assert "ActiveSync cannot connect to the server mail.contoso.com" in wm5.stdout
    ios = lab.device("ios", *INBOX)
    assert ios.returncode == 0, ios.stdout + ios.stderr


# --- Exchange 2016: every device speaks its own highest version ---------------------------------


def test_each_device_negotiates_its_own_protocol_version_with_exchange_2016(labs):
    lab = labs("exchange2016", [persona("Exchange 2016")])
    for profile in ("iphone-ios4", "ios", "android"):
        lab.trust(profile)
    iphone = lab.device("iphone-ios4", *INBOX)
    assert iphone.returncode == 0, iphone.stdout + iphone.stderr
    assert "and uses 14.0" in iphone.stdout
    android = lab.device("android", *INBOX)
    assert android.returncode == 0, android.stdout + android.stderr
    assert "and uses 16.1" in android.stdout
    agents = {row.get("cs(User-Agent)", "") for row in lab.host.w3c()}
    assert any("Apple-iPhone2C1" in a for a in agents) and any("Android-Mail" in a for a in agents)


def test_android_words_a_refused_password_its_own_way(labs):
    lab = labs("exchange2016", [persona("Exchange 2016")])
    lab.trust("android")
    result = lab.device("android", *INBOX, password="wrong")
    assert result.returncode == 1
    assert "HTTP 401" in result.stdout
    assert "Couldn't sign in. Username or password is incorrect." in result.stdout


def test_a_device_ini_line_regedit_would_not_read_is_reported_with_its_line(tmp_path):
    settings = DeviceSettings(tmp_path, load_profile("wm5"))
    settings.ensure()
    lines = settings.registry_file.read_text(encoding="utf-8").splitlines()
    settings.registry_file.write_text("\n".join([*lines, '"secure"=dwrd:0']) + "\n", encoding="utf-8")
    with pytest.raises(DeviceSettingsError, match=rf"device\.ini:{len(lines) + 1}: "):
        settings.certificate_checks()
