"""The device's discovery sequence against a real host, through the lab DNS, over real TLS.

The host listens on 127.0.0.1 (HTTP and HTTPS on free ports; ``port_map``
plays the firewall that publishes them as 80 and 443); the lab DNS decides
which steps can reach it.
"""
from __future__ import annotations

import socket
import ssl

import pytest
from autodiscover_lab import AUTODISCOVER_BLOCKS, dns_blocks, free_dns_port, free_port, lab_pm
from conftest import EAS

from host.pki import LabPKI
from host.regfile import RegType
from host.service import WebService
from host.testing import registry_text
from plugins.autodiscover.discovery import FAILED, REDIRECTED, SUCCEEDED, discover
from plugins.labdns.resolver import LabResolver

pytestmark = pytest.mark.realserver
MULTI, SZ = RegType.REG_MULTI_SZ, RegType.REG_SZ
DNS_IP = "127.0.0.253"
EAS_URL = "https://mail.contoso.com/Microsoft-Server-ActiveSync"
ALICE = ("CONTOSO\\alice", "P@ssw0rd")
SRV = ["_autodiscover._tcp 0 0 443 mail.contoso.com"]


def free_on_both(kind=socket.SOCK_STREAM) -> int:
    """A TCP port free on 127.0.0.1 and 127.0.0.2 (bounded tries)."""
    for _ in range(20):
        port = free_port("127.0.0.1")
        try:
            with socket.socket() as sock:
                sock.bind(("127.0.0.2", port))
        except OSError:
            continue
        return port
    raise AssertionError("no port free on both loopback addresses")


class Lab:
    """A host on 127.0.0.1 with the lab DNS, a certificate for ``names``, and the device's trust store."""

    def __init__(self, folder, *, names, zones: str, extra: str = "") -> None:
        self.http, self.https = free_on_both(), free_on_both()
        pki = LabPKI(folder / "data" / "pki")
        pki.ensure_root()
        cert = pki.issue_server(names)
        text = registry_text([("/LM/W3SVC/1", "ServerBindings", MULTI, [f"127.0.0.1:{self.http}:"]),
                              ("/LM/W3SVC/1", "SecureBindings", MULTI, [f"127.0.0.1:{self.https}:"]),
                              ("/LM/W3SVC/1", "SSLCertHash", SZ, cert.thumbprint),
                              (EAS, "ExternalUrl", SZ, EAS_URL)])
        (folder / "registry.ini").write_text(text + AUTODISCOVER_BLOCKS + zones + extra.replace("HTTP", str(self.http)),
                                             encoding="utf-8")
        self.service = WebService(folder / "registry.ini", folder / "data", pm=lab_pm(), announce=lambda _: None,
                                  threads=4)
        self.service.start()
        self.trust = ssl.create_default_context(cafile=str(pki.export_root(folder / "root.cer")))

    def discover(self, email: str = "alice@contoso.com", **kwargs):
        return discover(email, ALICE, LabResolver(self.service.config, timeout=2), self.trust,
                        port_map={443: self.https, 80: self.http}, timeout=5, **kwargs)


@pytest.fixture
def make_lab(tmp_path):
    labs = []

    def make(**kwargs):
        labs.append(Lab(tmp_path / f"lab{len(labs)}", **kwargs))
        return labs[-1]

    yield make
    for lab in labs:
        lab.service.stop()


def steps(discovery) -> list[tuple[str, str]]:
    return [(a.step, a.result) for a in discovery.attempts]


def test_autodiscover_name_in_dns_finds_the_eas_url_at_step_two(make_lab):
    listen = f"{DNS_IP}:{free_dns_port(DNS_IP)}"
    lab = make_lab(names=["mail.contoso.com", "autodiscover.contoso.com"],
                   zones=dns_blocks(listen, ["mail 127.0.0.1", "autodiscover 127.0.0.1"], SRV))
    found = lab.discover()
    assert found.succeeded and found.url == EAS_URL and found.address == "alice@contoso.com"
    assert steps(found) == [("POST https://contoso.com/autodiscover/autodiscover.xml", FAILED),
                            ("POST https://autodiscover.contoso.com/autodiscover/autodiscover.xml", SUCCEEDED)]
    assert "contoso.com exists but has no A record" in found.attempts[0].detail
    assert found.attempts[1].address == "127.0.0.1" and found.attempts[1].status == 200


def test_each_failure_is_recorded_until_the_srv_record_finds_the_server(make_lab):
    # The certificate does not name autodiscover.contoso.com, and an unauthenticated GET
    # on the Default Web Site meets the vdir's authentication instead of a redirect.
    listen = f"{DNS_IP}:{free_dns_port(DNS_IP)}"
    lab = make_lab(names=["mail.contoso.com"],
                   zones=dns_blocks(listen, ["mail 127.0.0.1", "autodiscover 127.0.0.1"], SRV))
    found = lab.discover()
    assert found.url == EAS_URL
    assert steps(found) == [
        ("POST https://contoso.com/autodiscover/autodiscover.xml", FAILED),
        ("POST https://autodiscover.contoso.com/autodiscover/autodiscover.xml", FAILED),
        ("GET http://autodiscover.contoso.com/autodiscover/autodiscover.xml", FAILED),
        ("SRV _autodiscover._tcp.contoso.com", REDIRECTED),
        ("POST https://mail.contoso.com/autodiscover/autodiscover.xml", SUCCEEDED),
    ]
    tls, get = found.attempts[1], found.attempts[2]
    assert tls.detail.startswith("TLS: the certificate of autodiscover.contoso.com was not accepted")
    assert "mismatch" in tls.detail.lower()
    assert get.status == 401 and "expected a 302" in get.detail


def test_the_http_redirect_site_is_followed_to_https(make_lab):
    # autodiscover.contoso.com is a second address where only a redirecting HTTP site listens.
    redirect_site = r'''
[/LM/W3SVC/2]
"ServerComment"="Autodiscover redirect"
"ServerBindings"=multi:"127.0.0.2:HTTP:"

[/LM/W3SVC/2/ROOT]
"Path"="C:\\Inetpub\\wwwroot"
"AuthFlags"=dword:00000001
"HttpRedirect"="https://mail.contoso.com/autodiscover/autodiscover.xml, EXACT_DESTINATION"
'''
    listen = f"{DNS_IP}:{free_dns_port(DNS_IP)}"
    lab = make_lab(names=["mail.contoso.com"], extra=redirect_site,
                   zones=dns_blocks(listen, ["mail 127.0.0.1", "autodiscover 127.0.0.2"], []))
    found = lab.discover()
    assert found.url == EAS_URL
    assert steps(found)[1:] == [
        ("POST https://autodiscover.contoso.com/autodiscover/autodiscover.xml", FAILED),
        ("GET http://autodiscover.contoso.com/autodiscover/autodiscover.xml", REDIRECTED),
        ("POST https://mail.contoso.com/autodiscover/autodiscover.xml", SUCCEEDED),
    ]
    assert found.attempts[1].detail.startswith(f"TCP: cannot connect to 127.0.0.2 port {lab.https}")
    assert found.attempts[2].detail == "HTTP 302 to https://mail.contoso.com/autodiscover/autodiscover.xml"


def test_nothing_in_dns_fails_every_step(make_lab):
    listen = f"{DNS_IP}:{free_dns_port(DNS_IP)}"
    lab = make_lab(names=["mail.contoso.com"], zones=dns_blocks(listen, ["mail 127.0.0.1"], []))
    found = lab.discover()
    assert not found.succeeded and found.url == ""
    assert [result for _step, result in steps(found)] == [FAILED] * 4
    assert "NXDOMAIN" in found.attempts[1].detail and "NXDOMAIN" in found.attempts[3].detail


def test_redirect_answers_restart_discovery_and_are_bounded(make_lab):
    # Each organisation says the other holds the mailbox: the device follows, then gives up.
    listen = f"{DNS_IP}:{free_dns_port(DNS_IP)}"
    zones = (dns_blocks(listen, ["autodiscover 127.0.0.1"], [])
             + dns_blocks(listen, ["autodiscover 127.0.0.1"], [], zone="fabrikam.com"))
    redirects = ('\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Exchange\\Autodiscover]\n'
                 '"RedirectDomains"=multi:"contoso.com fabrikam.com","fabrikam.com contoso.com"\n')
    lab = make_lab(names=["autodiscover.contoso.com", "autodiscover.fabrikam.com"], zones=zones, extra=redirects)
    found = lab.discover(max_redirects=2)
    assert not found.succeeded
    posts = [a for a in found.attempts if a.result == REDIRECTED]
    assert [a.step for a in posts] == ["POST https://autodiscover.contoso.com/autodiscover/autodiscover.xml",
                                       "POST https://autodiscover.fabrikam.com/autodiscover/autodiscover.xml",
                                       "POST https://autodiscover.contoso.com/autodiscover/autodiscover.xml"]
    assert posts[0].detail == "Redirect to the address alice@fabrikam.com"
    assert found.attempts[-1].result == FAILED and "more than 2 redirects" in found.attempts[-1].detail
