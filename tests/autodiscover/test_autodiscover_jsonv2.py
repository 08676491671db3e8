"""AutodiscoverV2 in-process: both spellings, the protocol error, redirects, anonymous access."""
from __future__ import annotations

import pytest
from autodiscover_lab import AUTODISCOVER_BLOCKS, lab_pm
from conftest import EAS

from host.testing import https_environ, registry_text

EAS_URL = "https://exchange01.contoso.com:8443/Microsoft-Server-ActiveSync"


@pytest.fixture
def v2(lab):
    def make(extra: str = ""):
        _service, app = lab(text=registry_text() + AUTODISCOVER_BLOCKS + extra, pm=lab_pm())
        return app
    return make


@pytest.mark.parametrize("path", [
    "/autodiscover/autodiscover.json?Email=alice@contoso.com&Protocol=ActiveSync",
    "/autodiscover/autodiscover.json/v1.0/alice@contoso.com?Protocol=ActiveSync",
    "/Autodiscover/Autodiscover.json/V1.0/alice@contoso.com?protocol=activesync",
])
def test_both_forms_answer_the_activesync_url_without_logon(v2, path):
    response = v2().get(path, extra_environ=https_environ())
    assert response.content_type == "application/json"
    assert response.json == {"Protocol": "ActiveSync", "Url": EAS_URL}
    assert response.body == b'{"Protocol":"ActiveSync","Url":"' + EAS_URL.encode() + b'"}'


def test_autodiscover_v1_url_points_at_the_pox_service(v2):
    response = v2().get("/autodiscover/autodiscover.json/v1.0/alice@contoso.com?Protocol=AutodiscoverV1",
                        extra_environ=https_environ())
    assert response.json == {"Protocol": "AutodiscoverV1",
                             "Url": "https://exchange01.contoso.com:8443/Autodiscover/Autodiscover.xml"}


def test_the_external_url_is_published(v2):
    app = v2(f'\n[{EAS}]\n"ExternalUrl"="https://mail.contoso.com/Microsoft-Server-ActiveSync"\n')
    response = app.get("/autodiscover/autodiscover.json?Email=bob@contoso.com&Protocol=ActiveSync",
                       extra_environ=https_environ())
    assert response.json["Url"] == "https://mail.contoso.com/Microsoft-Server-ActiveSync"


@pytest.mark.parametrize("query", ["Protocol=Pop3", ""])
def test_an_unknown_or_missing_protocol_is_invalid_protocol(v2, query):
    response = v2().get(f"/autodiscover/autodiscover.json/v1.0/alice@contoso.com?{query}",
                        extra_environ=https_environ(), status=400)
    assert response.json["ErrorCode"] == "InvalidProtocol"
    assert "activesync" in response.json["ErrorMessage"]


def test_without_a_massync_vdir_activesync_is_not_offered(v2):
    response = v2(f"\n[-{EAS}]\n").get("/autodiscover/autodiscover.json?Email=alice@contoso.com&Protocol=ActiveSync",
                                      extra_environ=https_environ(), status=400)
    assert response.json["ErrorCode"] == "InvalidProtocol" and "activesync," not in response.json["ErrorMessage"]


def test_a_domain_served_elsewhere_is_redirected_with_302(v2):
    app = v2('\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Exchange\\Autodiscover]\n'
             '"RedirectDomains"=multi:"fabrikam.com fabrikam.mail.onmicrosoft.com"\n')
    response = app.get("/autodiscover/autodiscover.json/v1.0/carol@fabrikam.com?Protocol=ActiveSync",
                       extra_environ=https_environ(), status=302)
    assert response.headers["Location"] == ("https://autodiscover.fabrikam.mail.onmicrosoft.com/autodiscover/"
                                            "autodiscover.json/v1.0/carol@fabrikam.mail.onmicrosoft.com"
                                            "?Protocol=ActiveSync&RedirectCount=1")


def test_the_json_key_decides_its_own_authentication(v2):
    app = v2('\n[/LM/W3SVC/1/ROOT/Autodiscover/autodiscover.json]\n"AuthFlags"=dword:00000002\n')
    app.get("/autodiscover/autodiscover.json?Email=alice@contoso.com&Protocol=ActiveSync",
            extra_environ=https_environ(), status=401)


def test_an_unknown_version_is_404(v2):
    v2().get("/autodiscover/autodiscover.json/v2.0/alice@contoso.com?Protocol=ActiveSync",
             extra_environ=https_environ(), status=404)
