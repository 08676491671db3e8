"""POX Autodiscover in-process: both schemas, the framework errors, redirects, authentication."""
from __future__ import annotations

import re

import pytest
from autodiscover_lab import AUTODISCOVER_BLOCKS, children, lab_pm
from conftest import EAS, EXCHANGE, basic
from lxml import etree

from host.config import ConfigError
from host.testing import https_environ, registry_text

RESPONSE = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
MOBILESYNC = "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006"
OUTLOOK = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
ALICE = basic("CONTOSO\\alice", "P@ssw0rd")
REDIRECTS = r'''
[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Exchange\Autodiscover]
"RedirectDomains"=multi:"fabrikam.com fabrikam.mail.onmicrosoft.com",\
  "litware.com https://autodiscover.litware.com/autodiscover/autodiscover.xml"
'''


def request_body(email: str, schema: str = MOBILESYNC, extra: str = "") -> bytes:
    request_ns = schema.replace("responseschema", "requestschema").removesuffix("a")
    if schema not in (MOBILESYNC, OUTLOOK):
        request_ns = MOBILESYNC.replace("responseschema", "requestschema")
    return (f'<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="{request_ns}"><Request>'
            f"<EMailAddress>{email}</EMailAddress>{extra}<AcceptableResponseSchema>{schema}"
            "</AcceptableResponseSchema></Request></Autodiscover>").encode()


@pytest.fixture
def autodiscover(lab):
    def make(extra: str = "", base: str | None = None):
        return lab(text=(base or registry_text()) + AUTODISCOVER_BLOCKS + extra, pm=lab_pm())
    return make


def post(app, body: bytes, path: str = "/Autodiscover/Autodiscover.xml", headers=ALICE, **kwargs):
    response = app.post(path, body, headers={**headers, "Content-Type": "text/xml"},
                        extra_environ=https_environ(), **kwargs)
    return response, etree.fromstring(response.body)


def ms(name: str) -> str:
    return f"{{{MOBILESYNC}}}{name}"


def ol(name: str) -> str:
    return f"{{{OUTLOOK}}}{name}"


def framework_error(root) -> tuple[str, str]:
    """(ErrorCode, Message) of a framework error, checking its shape (MS-ASCMD 2.2.3.63)."""
    assert root.tag == f"{{{RESPONSE}}}Autodiscover"
    [reply] = root
    assert reply.tag == f"{{{RESPONSE}}}Response" and children(reply) == ["Error"]
    error = reply[0]
    assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d{7}", error.get("Time")) and error.get("Id").isdigit()
    assert children(error) == ["ErrorCode", "Message", "DebugData"]
    return error.findtext(f"{{{RESPONSE}}}ErrorCode"), error.findtext(f"{{{RESPONSE}}}Message")


# --- mobilesync ---------------------------------------------------------------


def test_mobilesync_answers_alice_with_the_eas_url_in_schema_order(autodiscover):
    _service, app = autodiscover()
    response, root = post(app, request_body("alice@contoso.com"))
    assert response.status_int == 200 and response.content_type == "text/xml"
    assert response.body.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    assert root.tag == f"{{{RESPONSE}}}Autodiscover"
    [reply] = root
    assert reply.tag == ms("Response") and children(reply) == ["Culture", "User", "Action"]
    assert reply.findtext(ms("Culture")) == "en:us"
    user = reply.find(ms("User"))
    assert children(user) == ["DisplayName", "EMailAddress"]
    assert user.findtext(ms("EMailAddress")) == "alice@contoso.com"
    [server] = reply.findall(f"{ms('Action')}/{ms('Settings')}/{ms('Server')}")
    assert children(server) == ["Type", "Url", "Name"]
    assert server.findtext(ms("Type")) == "MobileSync"
    # Nothing set: InternalUrl's default, the computer's FQDN and the site's SSL port.
    url = "https://exchange01.contoso.com:8443/Microsoft-Server-ActiveSync"
    assert server.findtext(ms("Url")) == url and server.findtext(ms("Name")) == url


def test_devices_get_the_external_url_when_one_is_set(autodiscover):
    _service, app = autodiscover(f'\n[{EAS}]\n'
                                 '"InternalUrl"="https://exchange01.contoso.com/Microsoft-Server-ActiveSync"\n'
                                 '"ExternalUrl"="https://mail.contoso.com/Microsoft-Server-ActiveSync"\n')
    _response, root = post(app, request_body("alice@contoso.com"))
    assert root.findtext(f".//{ms('Url')}") == "https://mail.contoso.com/Microsoft-Server-ActiveSync"


def test_a_renamed_eas_vdir_is_published_under_its_new_name(autodiscover):
    base = registry_text().replace(f"[{EAS}]", "[/LM/W3SVC/1/ROOT/Mobile]")
    _service, app = autodiscover(base=base)
    _response, root = post(app, request_body("alice@contoso.com"))
    assert root.findtext(f".//{ms('Url')}") == "https://exchange01.contoso.com:8443/Mobile"


def test_without_a_massync_vdir_the_device_gets_an_error_naming_it(autodiscover):
    _service, app = autodiscover(f"\n[-{EAS}]\n")
    _response, root = post(app, request_body("alice@contoso.com"))
    error = root.find(f".//{ms('Action')}/{ms('Error')}")
    assert children(error) == ["Status", "Message", "DebugData"]
    assert error.findtext(ms("Status")) == "2" and "massync.dll" in error.findtext(ms("DebugData"))


def test_mobilesync_for_an_unknown_address_is_a_protocol_error(autodiscover):
    _service, app = autodiscover()
    _response, root = post(app, request_body("nobody@contoso.com"))
    assert root.find(f".//{ms('Settings')}") is None
    assert root.findtext(f".//{ms('Action')}/{ms('Error')}/{ms('Status')}") == "2"
    assert root.findtext(f".//{ms('User')}/{ms('EMailAddress')}") == "nobody@contoso.com"


def test_mobilesync_redirects_a_user_whose_primary_domain_is_served_elsewhere(autodiscover):
    service, app = autodiscover(REDIRECTS)
    service.directory.add_user("CONTOSO\\carol", "P@ssw0rd", smtp=["carol@fabrikam.com", "carol@contoso.com"])
    _response, root = post(app, request_body("carol@contoso.com"))
    assert children(root.find(f".//{ms('Action')}")) == ["Redirect"]
    assert root.findtext(f".//{ms('Redirect')}") == "carol@fabrikam.mail.onmicrosoft.com"
    # alice stays here
    _response, root = post(app, request_body("alice@contoso.com"))
    assert root.find(f".//{ms('Redirect')}") is None


# --- Outlook ------------------------------------------------------------------


def test_outlook_schema_gives_user_exch_and_owa_in_spec_order(autodiscover):
    _service, app = autodiscover(f'\n[{EXCHANGE}]\n"ExternalUrl"="https://mail.contoso.com/exchange"\n')
    _response, root = post(app, request_body("alice@contoso.com", OUTLOOK))
    [reply] = root
    assert reply.tag == ol("Response") and children(reply) == ["User", "Account"]
    assert children(reply.find(ol("User"))) == ["DisplayName", "LegacyDN", "AutoDiscoverSMTPAddress"]
    assert reply.findtext(f"{ol('User')}/{ol('AutoDiscoverSMTPAddress')}") == "alice@contoso.com"
    account = reply.find(ol("Account"))
    assert children(account) == ["AccountType", "Action", "Protocol", "Protocol"]
    assert account.findtext(ol("Action")) == "settings"
    exch, web = account.findall(ol("Protocol"))
    assert children(exch) == ["Type", "Server", "ServerDN"] and exch.findtext(ol("Type")) == "EXCH"
    assert exch.findtext(ol("Server")) == "exchange01.contoso.com"
    assert children(web) == ["Type", "External", "Internal"]
    external = web.find(f"{ol('External')}/{ol('OWAUrl')}")
    assert external.text == "https://mail.contoso.com/exchange"
    # /Exchange offers Basic and Integrated (AuthFlags 6)
    assert set(external.get("AuthenticationMethod").split(", ")) == {"Basic", "WindowsIntegrated"}
    assert web.findtext(f"{ol('Internal')}/{ol('OWAUrl')}") == "https://exchange01.contoso.com:8443/Exchange"


def test_outlook_redirect_addr_and_redirect_url(autodiscover):
    service, app = autodiscover(REDIRECTS)
    service.directory.add_user("CONTOSO\\carol", "P@ssw0rd", smtp=["carol@fabrikam.com"])
    _response, root = post(app, request_body("carol@fabrikam.com", OUTLOOK))
    account = root.find(f"{ol('Response')}/{ol('Account')}")
    assert children(account) == ["Action", "RedirectAddr"]
    assert account.findtext(ol("Action")) == "redirectAddr"
    assert account.findtext(ol("RedirectAddr")) == "carol@fabrikam.mail.onmicrosoft.com"
    _response, root = post(app, request_body("dave@litware.com", OUTLOOK))
    account = root.find(f"{ol('Response')}/{ol('Account')}")
    assert children(account) == ["Action", "RedirectUrl"]
    assert account.findtext(ol("RedirectUrl")) == "https://autodiscover.litware.com/autodiscover/autodiscover.xml"


def test_outlook_unknown_address_is_error_500(autodiscover):
    _service, app = autodiscover()
    _response, root = post(app, request_body("nobody@contoso.com", OUTLOOK))
    error = root.find(f"{ol('Response')}/{ol('Error')}")
    assert children(error) == ["ErrorCode", "Message", "DebugData"] and error.get("Time") and error.get("Id")
    assert error.findtext(ol("ErrorCode")) == "500"


def test_outlook_legacy_dn_wins_over_the_address(autodiscover):
    _service, app = autodiscover()
    body = request_body("alice@contoso.com", OUTLOOK, "<LegacyDN>/o=CONTOSO/ou=First Administrative Group/"
                                                      "cn=Recipients/cn=bob</LegacyDN>")
    _response, root = post(app, body)
    assert root.findtext(f".//{ol('AutoDiscoverSMTPAddress')}") == "bob@contoso.com"


# --- the framework: 600, 601 ---------------------------------------------------


@pytest.mark.parametrize("body", [
    b"<Autodiscover><Request>",  # not well-formed
    b'<Autodiscover xmlns="urn:other"><Request/></Autodiscover>',  # not a request namespace
    request_body("alice@contoso.com").replace(b"<AcceptableResponseSchema>", b"<x>")
    .replace(b"</AcceptableResponseSchema>", b"</x>"),  # no schema
    b"",
])
def test_an_unreadable_request_is_error_600(autodiscover, body):
    _service, app = autodiscover()
    response, root = post(app, body)
    assert response.status_int == 200
    assert framework_error(root) == ("600", "Invalid Request")


def test_an_authenticated_get_is_error_600(autodiscover):
    _service, app = autodiscover()
    response = app.get("/Autodiscover/Autodiscover.xml", headers=ALICE, extra_environ=https_environ())
    assert framework_error(etree.fromstring(response.body))[0] == "600"


def test_an_unknown_response_schema_is_error_601(autodiscover):
    _service, app = autodiscover()
    _response, root = post(app, request_body("alice@contoso.com", "http://example.com/someschema/2006"))
    assert framework_error(root) == ("601", "Provider is not available")


def test_entities_are_not_expanded(autodiscover):
    _service, app = autodiscover()
    body = (b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            + request_body("&e;").split(b"?>", 1)[1])
    response, root = post(app, body)
    assert b"root:" not in response.body
    assert root.find(f".//{ms('Settings')}") is None


# --- URL and authentication ----------------------------------------------------


@pytest.mark.parametrize("path", ["/autodiscover/autodiscover.xml", "/AUTODISCOVER/AUTODISCOVER.XML"])
def test_the_url_is_case_insensitive(autodiscover, path):
    _service, app = autodiscover()
    _response, root = post(app, request_body("alice@contoso.com"), path=path)
    assert root.findtext(f".//{ms('Url')}").endswith("/Microsoft-Server-ActiveSync")


def test_other_files_in_the_vdir_are_404(autodiscover):
    _service, app = autodiscover()
    app.get("/Autodiscover/other.xml", headers=ALICE, extra_environ=https_environ(), status=404)


def test_autodiscover_requires_authentication(autodiscover):
    _service, app = autodiscover()
    response = app.post("/Autodiscover/Autodiscover.xml", request_body("alice@contoso.com"),
                        extra_environ=https_environ(), status=401)
    assert any(v.startswith("Basic ") for v in response.headers.getall("WWW-Authenticate"))
    response = app.post("/Autodiscover/Autodiscover.xml", request_body("alice@contoso.com"),
                        headers=basic("CONTOSO\\alice", "wrong"), extra_environ=https_environ(), status=401)
    assert b"401.1" in response.body


def test_an_anonymous_request_on_a_vdir_allowing_anonymous_is_refused_by_the_handler(autodiscover):
    _service, app = autodiscover('\n[/LM/W3SVC/1/ROOT/Autodiscover]\n"AuthFlags"=dword:00000003\n')
    response = app.post("/Autodiscover/Autodiscover.xml", request_body("alice@contoso.com"),
                        extra_environ=https_environ(), status=401)
    assert b"401.5" in response.body
    assert [v for v in response.headers.getall("WWW-Authenticate") if v.startswith("Basic ")]
    _response, root = post(app, request_body("alice@contoso.com"))
    assert root.find(f".//{ms('Settings')}") is not None


def test_a_bad_external_url_is_a_config_error_naming_the_line(autodiscover):
    with pytest.raises(ConfigError) as info:
        autodiscover(f'\n[{EAS}]\n"ExternalUrl"="mail.contoso.com/Microsoft-Server-ActiveSync"\n')
    message = str(info.value)
    assert "ExternalUrl" in message and re.search(r"registry\.ini:\d+", message) and "not an absolute URL" in message
