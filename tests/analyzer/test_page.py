"""The analyzer's web page (``/exrca``, ``exrca.dll``) in Debian's chromium, driven by Playwright.

The host runs as ``python -m host serve`` with the page's vdir added to
registry.ini. Chromium trusts the lab root the way a Linux user's does (an
NSS database in its home, as tests/owa/test_browser.py sets it up), so the
page is reached over verified TLS. Without chromium or certutil the test
skips, except under CI.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.profiles.device_lab import EMAIL, PASSWORD, URL, USER, DeviceLab

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.realserver
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
TIMEOUT_MS = 30_000


def _require_tools() -> None:
    missing = [tool for tool, present in (("chromium", Path(CHROMIUM).is_file()),
                                          ("certutil", shutil.which("certutil") is not None)) if not present]
    if missing:
        message = f"{' and '.join(missing)} not installed (apt-get install chromium libnss3-tools)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def lab(tmp_path):
    lab = DeviceLab(tmp_path / "host").start()
    try:
        yield lab
    finally:
        lab.stop()


@pytest.fixture
def browser(lab, tmp_path):
    _require_tools()
    nssdb = tmp_path / "home" / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    subprocess.run(["certutil", "-N", "-d", f"sql:{nssdb}", "--empty-password"], check=True, timeout=30)
    subprocess.run(["certutil", "-A", "-d", f"sql:{nssdb}", "-n", "EASLab root", "-t", "C,,", "-i",
                    str(lab.host.root_ca())], check=True, timeout=30)
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=TIMEOUT_MS,
                                              env={**os.environ, "HOME": str(tmp_path / "home")})
        try:
            yield chromium
        finally:
            chromium.close()


def run_test(page, base: str, url: str) -> None:
    page.goto(f"{base}/exrca/")
    page.fill("#email", EMAIL)
    page.fill("#user", USER)
    page.fill("#password", PASSWORD)
    page.check("#manual")
    page.fill("#url", url)
    page.click("button:has-text('Perform Test')")


def test_the_page_runs_the_test_and_its_steps_expand_like_exrca(lab, browser):
    expect = sync_api.expect
    page = browser.new_context().new_page()
    page.set_default_timeout(TIMEOUT_MS)
    base = f"https://127.0.0.1:{lab.host.https_port}"

    run_test(page, base, URL)
    expect(page.locator("#verdict")).to_have_text("Connectivity Test Successful")
    certificate = page.locator("details.step", has_text="Testing the SSL certificate to make sure it's valid.").first
    name_check = certificate.locator("summary", has_text="Validating the certificate name.")
    expect(name_check).to_be_hidden()  # passed steps start folded
    certificate.locator("summary").first.click()
    expect(name_check).to_be_visible()
    expect(page.locator("#steps > details.success")).to_have_count(9)

    run_test(page, base, "https://owa.contoso.com/Microsoft-Server-ActiveSync")
    expect(page.locator("#verdict")).to_have_text("Connectivity Test Failed")
    failed = page.locator("details.failure")
    expect(failed).to_have_count(1)
    expect(failed.locator("summary")).to_contain_text("Attempting to resolve the host name owa.contoso.com in DNS.")
    expect(failed.locator(".cause")).to_be_visible()  # failed steps start open, with the setting behind them
    expect(failed.locator(".cause")).to_contain_text('the zone contoso.com has no A record for "owa"')
    expect(failed.locator(".cause")).to_contain_text("registry.ini:")
