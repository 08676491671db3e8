"""OWA in a real browser: Debian's chromium, driven by Playwright, against a real host on 127.0.0.1.

The host runs with forms-based authentication on /exchange and listens on
free ports (HTTP, HTTPS with the lab CA's certificate, SMTP). The browser
trusts the lab root the way a Linux user's chromium does: the root is
imported into an NSS database in the browser's home directory, so TLS is
verified for real (no ``--ignore-certificate-errors``).

Chromium comes from apt (``chromium``, plus ``libnss3-tools`` for certutil);
Playwright never downloads a browser. Without them the tests skip, except
under CI, where they must run.
"""
from __future__ import annotations

import base64
import http.client
import os
import shutil
import ssl
import subprocess
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from host.service import WebService
from host.testing import registry_text
from tests.owa.test_forms import FBA_ON
from tests.owa.test_pages import ASP_SCRIPT_MAP, PASSWORD, owa_pm
from tests.realhost import free_port

sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
TIMEOUT_MS = 20_000

pytestmark = pytest.mark.realserver


def _require_tools() -> None:
    missing = [tool for tool, present in (("chromium", Path(CHROMIUM).is_file()),
                                          ("certutil", shutil.which("certutil") is not None)) if not present]
    if missing:
        message = f"{' and '.join(missing)} not installed (apt-get install chromium libnss3-tools)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def host(tmp_path):
    """A started host with FBA on the Exchange vdir; yields (service, https base URL)."""
    http, https, smtp = free_port(), free_port(), free_port()
    text = (registry_text([FBA_ON, ASP_SCRIPT_MAP])
            .replace('"127.0.0.1:8080:"', f'"127.0.0.1:{http}:"')
            .replace('"127.0.0.1:8443:"', f'"127.0.0.1:{https}:"')
            .replace('"127.0.0.1:2525:"', f'"127.0.0.1:{smtp}:"'))
    registry = tmp_path / "registry.ini"
    registry.write_text(text, encoding="utf-8")
    service = WebService(registry, tmp_path / "data", pm=owa_pm(), announce=lambda line: None, threads=4)
    try:
        service.start()
        yield service, f"https://127.0.0.1:{https}"
    finally:
        service.stop()


@pytest.fixture
def chromium(host, tmp_path):
    """Chromium with a home whose NSS database trusts the lab root."""
    _require_tools()
    service, _base = host
    home = tmp_path / "home"
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    root = service.pki.export_root(tmp_path / "lab-root.pem")
    subprocess.run(["certutil", "-N", "-d", f"sql:{nssdb}", "--empty-password"], check=True, timeout=30)
    subprocess.run(["certutil", "-A", "-d", f"sql:{nssdb}", "-n", "EASLab root", "-t", "C,,", "-i", str(root)],
                   check=True, timeout=30)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=TIMEOUT_MS,
                                             env={**os.environ, "HOME": str(home)})
        try:
            yield browser
        finally:
            browser.close()


def log_on(browser, base: str, user: str):
    """A fresh browser context, logged on through the form; returns its page on the Inbox."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{base}/exchange/")
    assert "/exchweb/bin/auth/owalogon.asp" in page.url
    page.fill("#username", f"CONTOSO\\{user}")
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Log On')")
    page.wait_for_url(f"{base}/exchange/{user}/Inbox/")
    return page


def log_off(page) -> None:
    page.click("button:has-text('Log Off')")
    sync_api.expect(page.locator("h1")).to_have_text("You have logged off")


def test_log_on_read_send_to_bob_he_sees_it_log_off(host, chromium):
    _service, base = host
    alice = log_on(chromium, base, "alice")
    expect = sync_api.expect
    expect(alice.locator("main h1")).to_have_text("Inbox")

    first = alice.locator("table.items tbody a").first
    subject = first.inner_text()
    first.click()
    expect(alice.locator("main h1")).to_have_text(subject)
    expect(alice.locator(".body")).not_to_be_empty()

    unique = f"Browser test {uuid.uuid4().hex[:8]}"
    alice.click("a:has-text('New Message')")
    alice.fill("#To", "bob")
    alice.fill("#Subject", unique)
    alice.fill("#Body", "Sent from chromium through the OWA form.")
    alice.click("button:has-text('Send')")
    expect(alice.locator(".notice")).to_have_text("Your message has been sent.")
    log_off(alice)
    alice.goto(f"{base}/exchange/alice/Inbox/")
    assert "/exchweb/bin/auth/owalogon.asp" in alice.url  # the session is gone

    bob = log_on(chromium, base, "bob")
    bob.click(f"a:has-text('{unique}')")
    expect(bob.locator("main h1")).to_have_text(unique)
    expect(bob.locator(".body")).to_contain_text("Sent from chromium through the OWA form.")
    expect(bob.locator(".sender")).to_contain_text("Alice Wood")
    log_off(bob)


def test_a_wrong_password_shows_the_form_again_with_the_reason(host, chromium):
    _service, base = host
    page = chromium.new_context().new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{base}/exchange/")
    page.fill("#username", "CONTOSO\\alice")
    page.fill("#password", "not the password")
    page.click("button:has-text('Log On')")
    sync_api.expect(page.locator(".error")).to_contain_text("You could not be logged on")
    assert "reason=2" in page.url


def test_a_webdav_client_with_credentials_meets_the_logon_on_the_real_host(host):
    """MASSYNC's situation (PITFALLS 2.6) over a real TLS socket: its credentials count for nothing."""
    service, base = host
    context = ssl.create_default_context(cadata=service.pki.trusted_roots_pem().decode())
    address = urlsplit(base)
    credentials = "Basic " + base64.b64encode(f"CONTOSO\\alice:{PASSWORD}".encode()).decode()
    answers = {}
    for method, headers in (("PROPFIND", {"Depth": "1", "Translate": "f"}), ("GET", {})):
        connection = http.client.HTTPSConnection(address.hostname, address.port, context=context, timeout=20)
        try:
            connection.request(method, "/exchange/alice/Inbox/", headers={"Authorization": credentials, **headers})
            response = connection.getresponse()
            answers[method] = (response.status, response.reason, response.getheader("Location") or "")
            response.read()
        finally:
            connection.close()
    assert answers["PROPFIND"][:2] == (440, "Login Timeout")
    assert answers["GET"][0] == 302 and "/exchweb/bin/auth/owalogon.asp?url=" in answers["GET"][2]
