"""Issue 4's finish line on a real host (``python -m host serve``): SMTP in, WebDAV out over NTLM, quotas."""
from __future__ import annotations

import smtplib
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from host.regfile import RegType  # noqa: E402
from host.testing import registry_text  # noqa: E402
from realhost import RealHost, ntlm_request  # noqa: E402

pytestmark = pytest.mark.realserver
PROPFIND = (b'<?xml version="1.0"?><a:propfind xmlns:a="DAV:" xmlns:d="urn:schemas:httpmail:">'
            b"<a:prop><d:subject/></a:prop></a:propfind>")


@pytest.fixture
def host(tmp_path):
    text = registry_text([("/LM/W3SVC/1/ROOT/Exchange", "AuthFlags", RegType.REG_DWORD, 4)])
    real = RealHost(tmp_path, text)
    real.start()
    assert any(f"Listening on smtp://127.0.0.1:{real.smtp_port}/" in line for line in real.output)
    yield real
    assert real.stop() == 0


def propfind(host: RealHost, user: str, path: str = "/exchange/alice/Inbox/"):
    return ntlm_request(host.http(), "PROPFIND", path, user, "P@ssw0rd",
                        headers={"Depth": "1", "Translate": "f", "Content-Type": "text/xml"}, body=PROPFIND)


def test_smtp_delivery_shows_in_propfind_over_ntlm_and_bob_is_refused(host):
    with smtplib.SMTP("127.0.0.1", host.smtp_port, timeout=15) as smtp:
        smtp.sendmail("carol@fabrikam.com", ["alice@contoso.com"],
                      b"From: carol@fabrikam.com\r\nTo: alice@contoso.com\r\nSubject: Quarterly numbers\r\n\r\nHi Alice\r\n")
    status, _, body = propfind(host, "CONTOSO\\alice")
    assert status == 207 and b"Quarterly numbers" in body
    status, _, _ = propfind(host, "CONTOSO\\bob")
    assert status == 403


def test_mailbox_over_prohibit_send_receive_refuses_delivery_552(host):
    result = host.run_cli("mailbox", "quota", "CONTOSO\\alice", "--prohibit-send-receive", "1")
    assert result.returncode == 0, result.stderr
    with smtplib.SMTP("127.0.0.1", host.smtp_port, timeout=15) as smtp:
        smtp.ehlo()
        smtp.mail("carol@fabrikam.com")
        code, message = smtp.rcpt("alice@contoso.com")
    assert (code, message[:5]) == (552, b"5.2.2")
