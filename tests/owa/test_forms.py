"""Forms-based authentication on /exchange, in-process: what a browser and a WebDAV client see.

FBA is on when the Exchange vdir has ``FormsBasedAuthentication``; requests
arrive on the SSL binding (``https_environ``) unless a test is about plain HTTP.
"""
from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

import pytest

from host.testing import https_environ
from plugins.owa import forms
from tests.owa.test_pages import ALICE, BOB, DWORD, EXCHANGE, PASSWORD, Owa, basic, open_owa

HTTPS = "https://127.0.0.1:8443"
FBA_ON = (EXCHANGE, "FormsBasedAuthentication", DWORD, 1)
OWA_KEY = forms.OWA_KEY
NTLM_NEGOTIATE = "NTLM " + base64.b64encode(b"NTLMSSP\x00\x01\x00\x00\x00" + b"\x07\x82\x08\xa2" + bytes(16)).decode()


class Browser:
    """Requests on the SSL binding with the cookies a browser would keep."""

    def __init__(self, owa: Owa) -> None:
        self.owa = owa
        self.environ = {**https_environ(), "HTTP_HOST": "127.0.0.1:8443"}

    def request(self, path: str, method: str = "GET", status="*", **headers):
        return self.owa.app.request(HTTPS + path, method=method, headers=headers, status=status,
                                    environ=dict(self.environ))

    def logon(self, user: str = ALICE, password: str = PASSWORD, *, trusted: bool = False,
              destination: str = HTTPS + "/exchange/alice/"):
        return self.owa.app.post(HTTPS + "/exchweb/bin/auth/owaauth.dll",
                                 {"destination": destination, "flags": "0", "username": user, "password": password,
                                  "trusted": "4" if trusted else "0", "SubmitCreds": "Log On"},
                                 extra_environ=self.environ, status="*")

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.owa.app.cookiejar if c.name == name), None)


@pytest.fixture
def fba(lab) -> Owa:
    return open_owa(lab, [FBA_ON])


@pytest.fixture
def browser(fba) -> Browser:
    return Browser(fba)


def logon_query(location: str) -> dict[str, list[str]]:
    parts = urlsplit(location)
    assert parts.path == "/exchweb/bin/auth/owalogon.asp", location
    return parse_qs(parts.query)


# --- the logon round trip ---------------------------------------------------------------------


def test_a_browser_without_a_session_is_sent_to_owalogon_with_its_url(browser):
    answer = browser.request("/exchange/alice/Inbox/")
    assert answer.status_int == 302
    assert logon_query(answer.location) == {"url": [HTTPS + "/exchange/alice/Inbox/"], "reason": ["0"]}


def test_the_logon_page_posts_exchanges_fields_to_owaauth(browser):
    page = browser.request("/exchweb/bin/auth/owalogon.asp?url=https%3A%2F%2F127.0.0.1%3A8443%2Fexchange%2F&reason=0")
    assert page.status_int == 200
    form = page.forms[0]
    assert form.action == "/exchweb/bin/auth/owaauth.dll" and form.method.upper() == "POST"
    assert form["destination"].value == HTTPS + "/exchange/"
    assert {"destination", "flags", "username", "password", "trusted"} <= set(form.fields)
    assert "15 minutes" in page.text and "1440 minutes" in page.text


def test_owaauth_sets_the_session_cookies_and_they_open_the_mailbox(browser):
    browser.owa.deliver("Quarterly numbers")
    answer = browser.logon()
    assert answer.status_int == 302 and answer.location == HTTPS + "/exchange/alice/"
    cookies = answer.headers.getall("Set-Cookie")
    assert any(c.startswith("sessionid=") and ",0x409;" in c and "HttpOnly" in c and "secure" in c for c in cookies)
    assert any(c.startswith('cadata="2,') and "HttpOnly" in c and "secure" in c for c in cookies)
    inbox = browser.request("/exchange/alice/Inbox/")
    assert inbox.status_int == 200 and "Quarterly numbers" in inbox.text
    assert inbox.html.find("form", class_="logoff") is not None


def test_a_wrong_password_goes_back_to_the_form_with_reason_2(browser):
    answer = browser.logon(password="guess")
    assert answer.status_int == 302
    assert logon_query(answer.location) == {"url": [HTTPS + "/exchange/alice/"], "reason": ["2"]}
    assert browser.cookie(forms.SESSION_COOKIE) is None
    page = browser.request(answer.location.replace("https://127.0.0.1:8443", ""))
    assert "You could not be logged on" in page.text


def test_a_destination_on_another_server_is_not_followed(browser):
    for elsewhere in ("https://evil.example/phish", "//evil.example/phish", "/\\evil.example/phish"):
        answer = browser.logon(destination=elsewhere)
        assert answer.status_int == 302 and answer.location == HTTPS + "/exchange/", elsewhere


def test_the_session_cookie_opens_only_its_owners_mailbox(browser):
    browser.logon(BOB)
    assert browser.request("/exchange/bob/Inbox/").status_int == 200
    assert browser.request("/exchange/alice/Inbox/").status_int == 403


# --- idle time-out and log off ------------------------------------------------------------------------


def test_an_idle_public_session_times_out_with_440(browser):
    clock = [1000.0]
    forms.sessions(browser.owa.service).clock = lambda: clock[0]
    browser.logon()
    clock[0] += 14 * 60
    assert browser.request("/exchange/alice/Inbox/").status_int == 200  # use restarts the idle clock
    clock[0] += 14 * 60
    assert browser.request("/exchange/alice/Inbox/").status_int == 200
    clock[0] += 16 * 60
    answer = browser.request("/exchange/alice/Inbox/", method="PROPFIND", Depth="1")
    assert answer.status_int == 440 and answer.status == "440 Login Timeout"
    assert {c.split("=", 1)[0] for c in answer.headers.getall("Set-Cookie")} == {"sessionid", "cadata"}
    assert all("1970" in c for c in answer.headers.getall("Set-Cookie"))


def test_a_timed_out_browser_is_sent_back_to_the_logon_form_which_says_why(browser):
    clock = [1000.0]
    forms.sessions(browser.owa.service).clock = lambda: clock[0]
    browser.logon()
    clock[0] += 16 * 60
    answer = browser.request("/exchange/alice/Inbox/")
    assert answer.status_int == 302 and logon_query(answer.location)["reason"] == ["3"]
    assert "was not used for a while" in browser.request(answer.location.replace(HTTPS, "")).text


def test_a_private_computer_and_the_registry_time_outs(lab):
    browser = Browser(open_owa(lab, [FBA_ON, (OWA_KEY, "PublicClientTimeout", DWORD, 2),
                                     (OWA_KEY, "TrustedClientTimeout", DWORD, 60)]))
    clock = [1000.0]
    forms.sessions(browser.owa.service).clock = lambda: clock[0]
    browser.logon(trusted=True)
    clock[0] += 59 * 60
    assert browser.request("/exchange/alice/Inbox/").status_int == 200
    browser.logon()  # a public logon replaces the cookies
    clock[0] += 3 * 60
    assert browser.request("/exchange/alice/Inbox/", method="PROPFIND", Depth="0").status_int == 440


def test_log_off_ends_the_session_and_needs_the_canary(browser):
    browser.logon()
    page = browser.request("/exchange/alice/Inbox/")
    logoff = page.html.find("form", class_="logoff")
    refused = browser.owa.app.post(HTTPS + logoff["action"], {"canary": "forged"}, extra_environ=browser.environ,
                                   status="*")
    assert refused.status_int == 403
    assert browser.request("/exchange/alice/Inbox/").status_int == 200
    canary = logoff.find("input", attrs={"name": "canary"})["value"]
    done = browser.owa.app.post(HTTPS + logoff["action"], {"canary": canary}, extra_environ=browser.environ)
    assert done.status_int == 200 and "You have logged off" in done.text
    assert browser.request("/exchange/alice/Inbox/").status_int == 302


def test_a_stolen_session_id_without_cadata_opens_nothing(browser):
    answer = browser.logon()
    session_id = browser.cookie(forms.SESSION_COOKIE)
    browser.owa.app.cookiejar.clear()
    probe = browser.request("/exchange/alice/Inbox/", method="PROPFIND", Depth="0",
                            Cookie=f'{forms.SESSION_COOKIE}={session_id}; cadata="2,guessed"')
    assert answer.status_int == 302 and probe.status_int == 440


# --- FBA needs SSL; WebDAV clients cannot follow the form (PITFALLS 2.6) ------------------------------------


def test_fba_on_plain_http_is_403_4_even_with_good_credentials(fba):
    answer = fba.get("/exchange/alice/Inbox/")
    assert answer.status_int == 403
    assert "SSL is required" in answer.text
    logon = fba.app.post("/exchweb/bin/auth/owaauth.dll", {"username": ALICE, "password": PASSWORD}, status="*")
    assert logon.status_int == 403


def test_ssl_offloaded_lets_fba_work_over_plain_http(lab):
    owa = open_owa(lab, [FBA_ON, (OWA_KEY, "SSLOffloaded", DWORD, 1)])
    answer = owa.get("/exchange/alice/Inbox/", user=None)
    assert answer.status_int == 302 and "owalogon.asp" in answer.location


def test_webdav_with_basic_or_ntlm_but_no_cookie_gets_the_logon_answer_not_the_mailbox(browser):
    for authorization in (basic(ALICE)["Authorization"], NTLM_NEGOTIATE):
        propfind = browser.request("/exchange/alice/Inbox/", method="PROPFIND", Depth="1", Authorization=authorization)
        assert propfind.status_int == 440, authorization
        assert b"multistatus" not in propfind.body
    get = browser.request("/exchange/alice/Inbox/", Authorization=basic(ALICE)["Authorization"])
    assert get.status_int == 302 and "owalogon.asp" in get.location


def test_without_fba_the_same_webdav_request_reaches_the_mailbox(lab):
    owa = open_owa(lab)
    answer = owa.app.request(HTTPS + "/exchange/alice/Inbox/", method="PROPFIND",
                             headers={**basic(ALICE), "Depth": "1"}, environ=https_environ(), status="*")
    assert answer.status_int == 207


def test_webdav_with_the_session_cookie_reaches_the_mailbox(browser):
    browser.logon()
    answer = browser.request("/exchange/alice/Inbox/", method="PROPFIND", Depth="0", Translate="f")
    assert answer.status_int == 207


def test_the_logon_pages_stay_reachable_without_a_session(browser):
    assert browser.request("/exchweb/bin/auth/owalogon.asp").status_int == 200
    assert browser.request("/exchweb/bin/auth/nosuch.asp").status_int == 404
    assert browser.request("/exchweb/controls/owa.css").status_int == 200
