"""``python -m host analyze activesync`` against a real host: all green by default, and each broken
configuration failing at the right step with the setting that caused it, file:line included.

The lab DNS of every host answers mail.contoso.com with 127.0.0.1, where the
host listens; the analyzer reaches it through the lab's port map.
"""
from __future__ import annotations

import re

import pytest

from host.regfile import Registry, RegType
from plugins.activesync.plugin import MASSYNC_PARAMETERS
from tests.profiles.device_lab import EAS, SITE, URL, DeviceLab

pytestmark = pytest.mark.realserver
DWORD = RegType.REG_DWORD
EXCHANGE = "/LM/W3SVC/1/ROOT/Exchange"
ZONE = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion\DNS Server\Zones\contoso.com"


@pytest.fixture(scope="module")
def labs(tmp_path_factory):
    """``labs(name, values, **options)``: one started host per name for the whole module."""
    started: dict[str, DeviceLab] = {}

    def get(name: str, values=(), **options) -> DeviceLab:
        if name not in started:
            started[name] = DeviceLab(tmp_path_factory.mktemp(name), values, **options).start()
        return started[name]

    yield get
    for lab in started.values():
        lab.stop()


def origin(lab: DeviceLab, key: str, name: str) -> str:
    """``registry.ini:<line>``, where the host's registry.ini sets the value."""
    value = Registry.from_file(lab.host.registry).value(key, name)
    assert value is not None, f"{key} {name} is not in the lab's registry.ini"
    return f"registry.ini:{value.location.line} [{key}]"


def top_level(report: str) -> list[str]:
    """The result marks of the report's top-level steps."""
    return re.findall(r"^\[(....)\] ", report, re.MULTILINE)


def test_the_default_host_is_all_green(labs):
    result = labs("default").analyze("--url", URL)
    assert result.returncode == 0, result.stdout + result.stderr
    assert top_level(result.stdout) == [" OK "] * 9
    for title in ("Attempting to resolve the host name mail.contoso.com in DNS.",
                  "Testing TCP port 443 on host mail.contoso.com to ensure it's listening and open.",
                  "Testing the SSL certificate to make sure it's valid.",
                  "Checking the IIS configuration for client certificate authentication.",
                  f"Testing HTTP Authentication Methods for URL {URL}/.",
                  "Attempting to send an OPTIONS command to the server.",
                  "Attempting the FolderSync command on the Exchange ActiveSync session.",
                  "Attempting the Sync command on the Exchange ActiveSync session."):
        assert f"[ OK ] {title}" in result.stdout
    assert "MS-ASProtocolVersions: 1.0,2.0,2.1,2.5" in result.stdout
    assert result.stdout.rstrip().endswith("Connectivity Test Successful")


def test_without_a_url_autodiscover_finds_the_server_first(labs):
    result = labs("default").analyze()
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.index("Attempting each method of contacting the Autodiscover service.") < \
        result.stdout.index("Attempting to resolve the host name exchange01.contoso.com in DNS.")
    # the shipped zone has no A record for contoso.com itself: that method fails, the next one answers
    assert "[FAIL] Attempting to test potential Autodiscover URL https://contoso.com/autodiscover/autodiscover.xml" \
        in result.stdout
    assert 'the zone contoso.com has no A record for "@"' in result.stdout
    assert "ActiveSync URL: https://exchange01.contoso.com:" in result.stdout
    assert result.stdout.rstrip().endswith("Connectivity Test Successful")


def test_an_expired_certificate_fails_at_the_certificate_step_and_names_sslcerthash(labs):
    lab = labs("certificates")
    thumbprint = lab.issue("mail.contoso.com", "--expired")
    lab.use_certificate(thumbprint)
    result = lab.analyze("--url", URL)
    assert result.returncode == 1
    assert top_level(result.stdout) == [" OK ", " OK ", "FAIL"]
    assert "[FAIL] Testing the SSL certificate to make sure it's valid." in result.stdout
    assert "[FAIL] Testing the certificate date to confirm the certificate is valid." in result.stdout
    assert "Date validation failed. The certificate has expired." in result.stdout
    assert f"Caused by: SSLCertHash = {thumbprint} of [{SITE}] ({origin(lab, SITE, 'SSLCertHash')})" \
        in result.stdout
    assert "OPTIONS" not in result.stdout  # ExRCA stops at the first failed step


def test_a_certificate_from_an_untrusted_root_fails_trust_unless_trust_is_ignored(labs):
    lab = labs("certificates")
    lab.use_certificate(lab.issue("mail.contoso.com", "--untrusted"))
    result = lab.analyze("--url", URL)
    assert result.returncode == 1
    assert "[FAIL] Certificate trust is being validated." in result.stdout
    assert "issued by O=EASLab,CN=EASLab Untrusted Root" in result.stdout
    assert "[ OK ] Validating the certificate name." in result.stdout
    assert f"({origin(lab, SITE, 'SSLCertHash')})" in result.stdout
    ignored = lab.analyze("--url", URL, "--ignore-ssl-trust")
    assert ignored.returncode == 0, ignored.stdout
    assert "[WARN] Testing the SSL certificate to make sure it's valid." in ignored.stdout
    assert ignored.stdout.rstrip().endswith("Connectivity Test Successful with Warnings")


def test_requiring_client_certificates_on_the_eas_vdir_fails_with_403_7_and_names_accesssslflags(labs):
    lab = labs("require-cert", [(EAS, "AccessSSLFlags", DWORD, 0x68)])
    result = lab.analyze("--url", URL)
    assert result.returncode == 1
    assert "[FAIL] Checking the IIS configuration for client certificate authentication." in result.stdout
    assert "got HTTP 403.7" in result.stdout
    assert (f"Caused by: AccessSSLFlags = 0x68 (AccessSSL, AccessSSLNegotiateCert, AccessSSLRequireCert) of [{EAS}] "
            f"({origin(lab, EAS, 'AccessSSLFlags')})") in result.stdout


def test_accepting_client_certificates_is_a_warning_devices_that_cannot_renegotiate_would_fail(labs):
    lab = labs("accept-cert", [(EAS, "AccessSSLFlags", DWORD, 0x20)])
    result = lab.analyze("--url", URL)
    assert result.returncode == 0, result.stdout
    assert "[WARN] Checking the IIS configuration for client certificate authentication." in result.stdout
    assert f"AccessSSLFlags = 0x20 (AccessSSLNegotiateCert) of [{EAS}]" in result.stdout
    assert "[ OK ] Attempting the Sync command on the Exchange ActiveSync session." in result.stdout


@pytest.mark.parametrize("flags, offered", [(0, "none"), (4, "Negotiate, NTLM")])
def test_an_eas_vdir_without_basic_fails_the_authentication_methods_and_names_authflags(labs, flags, offered):
    lab = labs(f"authflags-{flags}", [(EAS, "AuthFlags", DWORD, flags)])
    result = lab.analyze("--url", URL)
    assert result.returncode == 1
    assert f"[FAIL] Testing HTTP Authentication Methods for URL {URL}/." in result.stdout
    assert f"Methods found: {offered}" in result.stdout
    assert f"Caused by: AuthFlags = 0x{flags:X} " in result.stdout
    assert f"({origin(lab, EAS, 'AuthFlags')}): HTTP 401.2" in result.stdout


def test_a_missing_dns_record_fails_name_resolution_and_names_the_zone(labs):
    lab = labs("no-mail-record", edit=lambda text: text.replace('"A"=multi:"mail 127.0.0.1",', '"A"=multi:'))
    result = lab.analyze("--url", URL)
    assert result.returncode == 1
    assert top_level(result.stdout) == ["FAIL"]
    assert "mail.contoso.com does not exist" in result.stdout and "NXDOMAIN" in result.stdout
    assert f'({origin(lab, ZONE, "A")}): the zone contoso.com has no A record for "mail"' in result.stdout


def test_ssl_required_on_the_exchange_vdir_gives_massync_500_and_names_its_accesssslflags(labs):
    """KB817379: MASSYNC's own request to /Exchange is plain HTTP; the back end answers 403.4."""
    lab = labs("exchange-ssl", [(EXCHANGE, "AccessSSLFlags", DWORD, 8)])
    result = lab.analyze("--url", URL)
    assert result.returncode == 1
    assert "[FAIL] Attempting to send the Provision command to the server." in result.stdout
    assert "An HTTP 500 response was returned from the server." in result.stdout
    assert "Event Server ActiveSync 3005" in result.stdout
    assert "the event quotes the back end's HTTP 403.4" in result.stdout
    assert (f"Caused by: AccessSSLFlags = 0x8 (AccessSSL) of [{EXCHANGE}] ({origin(lab, EXCHANGE, 'AccessSSLFlags')}): "
            "MASSYNC's own request got 403.4") in result.stdout


def test_a_renamed_exchange_vdir_gives_massync_500_and_names_exchangevdir(labs):
    lab = labs("exchange-vdir", [(MASSYNC_PARAMETERS, "ExchangeVDir", RegType.REG_SZ, "/exchange-oma")])
    result = lab.analyze("--url", URL)
    assert result.returncode == 1
    assert "An HTTP 500 response was returned from the server." in result.stdout
    assert (f"Caused by: ExchangeVDir = /exchange-oma of [{MASSYNC_PARAMETERS}] "
            f"({origin(lab, MASSYNC_PARAMETERS, 'ExchangeVDir')})") in result.stdout
    assert "no site has a vdir /exchange-oma" in result.stdout


def test_full_runs_test_activesync_connectivity_with_a_test_message_through_direct_push(labs):
    result = labs("default").analyze("--url", URL, "--full")
    assert result.returncode == 0, result.stdout
    for scenario in ("Options", "FolderSync", "First Sync", "GetItemEstimate", "Sync Data", "Ping",
                     "Sync Test Item"):
        assert f"[ OK ] {scenario}\n" in result.stdout
    assert "Status 2, changes in Inbox" in result.stdout
    assert 'received "Test-ActiveSyncConnectivity ' in result.stdout
