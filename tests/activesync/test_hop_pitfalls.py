"""The Exchange 2003 persona's hop to /Exchange, and the pitfalls that come out of it.

Every test runs a real host on a free loopback port (in this process, or as
``python -m host serve``): the device's request arrives over HTTP, MASSYNC
sends its WebDAV requests over HTTP with a real NTLM handshake to the same
host's /Exchange vdir, and the failure a test expects is whatever that
request really got (PITFALLS 2.2-2.6, 2.10, 2.11). Nothing here tells
MASSYNC what to answer.
"""
from __future__ import annotations

import base64
import http.client
import re

import pytest
import spnego

from host.regfile import RegType, set_value
from plugins.activesync.plugin import MASSYNC_PARAMETERS
from plugins.owa.mailbox import FolderType, Quotas

from .conftest import w3c_rows

pytestmark = pytest.mark.realserver
DWORD, SZ, MULTI = RegType.REG_DWORD, RegType.REG_SZ, RegType.REG_MULTI_SZ
EXCHANGE = "/LM/W3SVC/1/ROOT/Exchange"
PERSONA = "Exchange 2003 SP2"
HOP_AGENT = "Microsoft-Server-ActiveSync/6.5.7638.1"
ZONE = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion\DNS Server\Zones\contoso.com"


def mailbox_errors(lab) -> list[str]:
    """Texts of the Server ActiveSync 3005 events, newest first."""
    return [e.text for e in lab.service.eventlog.query(source="Server ActiveSync", event_id=3005)]


def hop_rows(lab, user: str = "alice") -> list[dict[str, str]]:
    return [r for r in w3c_rows(lab.service) if r["cs-uri-stem"].casefold().startswith(f"/exchange/{user}/")
            or r["cs(User-Agent)"].startswith(HOP_AGENT)]


def device_posts(lab) -> list[dict[str, str]]:
    return [r for r in w3c_rows(lab.service) if r["cs-method"] == "POST"
            and r["cs-uri-stem"] == "/Microsoft-Server-ActiveSync"]


def change_registry(lab, *values: tuple) -> None:
    """Edit registry.ini as an admin would and let the running host apply it (no restart)."""
    text = lab.service.registry_path.read_text(encoding="utf-8")
    for key, name, kind, value in values:
        text = set_value(text, key, name, kind, value)
    lab.service.registry_path.write_text(text, encoding="utf-8")
    assert lab.service.reload()


def inbox_of(device) -> str:
    folders = device.folder_sync()
    assert folders.status == 200, folders.status
    return device.folder_id(folders, 2)


# --- the hop itself ------------------------------------------------------------------------


def test_foldersync_and_sync_reach_the_mailbox_through_exchange_with_ntlm(real_eas):
    lab = real_eas(PERSONA)
    lab.deliver("Through the hop")
    device = lab.client(version="2.5", device_id="HOP1")
    inbox = inbox_of(device)
    key = device.sync(inbox, "0", klass="Email").text("as:Collections/as:Collection/as:SyncKey")
    answer = device.sync(inbox, key, klass="Email")
    assert answer.status == 200
    assert "Through the hop" in [a.findtext(".//{Email}Subject") for a in answer.findall(".//as:Commands/as:Add")]

    rows = hop_rows(lab)
    served = [r for r in rows if r["sc-status"] in ("200", "201", "207")]
    assert {"SEARCH", "PROPFIND", "GET", "PUT"} <= {r["cs-method"] for r in served}
    assert all(r["cs-username"] == "CONTOSO\\alice" for r in served)
    assert all(r["cs(User-Agent)"].startswith(HOP_AGENT) for r in rows)
    assert any(r["cs-uri-stem"] == "/Exchange/alice/" and r["cs-method"] == "SEARCH" for r in served)
    # NTLM authenticates the connection: far fewer handshakes (401.1 legs) than requests
    handshakes = [r for r in rows if r["sc-status"] == "401"]
    assert handshakes and all(r["sc-substatus"] == "1" and r["cs-username"] == "-" for r in handshakes)
    assert len(handshakes) * 3 < len(served)
    assert [p["sc-status"] for p in device_posts(lab)] == ["200", "200", "200"]


def test_a_deletion_and_a_read_flag_reach_the_device_incrementally_even_after_a_restart(real_eas, tmp_path):
    lab = real_eas(PERSONA)
    doomed, flagged = lab.deliver("Doomed"), lab.deliver("Read in OWA")
    device = lab.client(version="2.5", device_id="HOP2")
    inbox = inbox_of(device)
    key = device.sync(inbox, "0", klass="Email").text("as:Collections/as:Collection/as:SyncKey")
    key = device.sync(inbox, key, klass="Email").text("as:Collections/as:Collection/as:SyncKey")
    lab.store.delete_items(lab.mailbox, [doomed], hard=True)
    lab.store.update_item(lab.mailbox, flagged, read=True)
    answer = device.sync(inbox, key, klass="Email")
    assert [d.findtext("{AirSync}ServerId") for d in answer.findall(".//as:Commands/as:Delete")] == [f"{inbox}:{doomed}"]
    assert [c.findtext("{AirSync}ServerId") for c in answer.findall(".//as:Commands/as:Change")] == [f"{inbox}:{flagged}"]
    assert not answer.findall(".//as:Commands/as:Add")
    key = answer.text("as:Collections/as:Collection/as:SyncKey")

    # The marks' collblobs live in the mailbox: a restarted host still syncs incrementally.
    lab.service.stop()
    from host.service import WebService

    again = WebService(lab.service.registry_path, lab.service.data_dir, announce=lambda line: None, threads=8)
    try:
        again.start()
        lab.service = again
        gone = lab.deliver("After the restart")
        lab.store.delete_items(lab.mailbox, [flagged], hard=True)
        answer = device.sync(inbox, key, klass="Email")
        assert [a.findtext(".//{Email}Subject") for a in answer.findall(".//as:Commands/as:Add")] == ["After the restart"]
        assert [d.findtext("{AirSync}ServerId") for d in answer.findall(".//as:Commands/as:Delete")] == [f"{inbox}:{flagged}"]
        assert gone
    finally:
        from plugins.activesync.plugin import push_hub

        push_hub(again).shutdown()
        again.stop()


def test_a_folder_deleted_in_owa_is_a_foldersync_delete(real_eas):
    lab = real_eas(PERSONA)
    made = lab.store.create_folder(lab.mailbox, None, "Projects")
    device = lab.client(version="2.5", device_id="HOP3")
    first = device.folder_sync()
    assert str(made.id) in [a.findtext("{FolderHierarchy}ServerId") for a in first.findall("fh:Changes/fh:Add")]
    lab.store.delete_folder(lab.mailbox, made.id, hard=True)
    answer = device.folder_sync(first.text("fh:SyncKey"))
    assert [d.findtext("{FolderHierarchy}ServerId") for d in answer.findall("fh:Changes/fh:Delete")] == [str(made.id)]


# --- PITFALLS 2.3, 2.5, 2.6: what /Exchange demands of its clients ----------------------------


def test_basic_only_on_exchange_leaves_ntlm_nothing_to_answer_500(real_eas):
    lab = real_eas(PERSONA, (EXCHANGE, "AuthFlags", DWORD, 2))
    assert lab.client(version="2.5", device_id="IWA1").folder_sync().status == 500
    [error] = mailbox_errors(lab)
    assert "HTTP status code: [401]" in error and "offers Basic" in error
    rows = hop_rows(lab)
    assert [(r["sc-status"], r["sc-substatus"], r["cs-username"]) for r in rows] == [("401", "2", "-")]  # no Basic try
    assert device_posts(lab)[-1]["sc-status"] == "500"


def test_ssl_required_on_exchange_gives_the_hop_403_4_and_the_device_500(real_eas):
    lab = real_eas(PERSONA, (EXCHANGE, "AccessSSLFlags", DWORD, 8))
    assert lab.client(version="2.5", device_id="SSL1").folder_sync().status == 500
    assert "HTTP status code: [403]" in mailbox_errors(lab)[0]
    assert [(r["sc-status"], r["sc-substatus"]) for r in hop_rows(lab)] == [("403", "4")]
    assert device_posts(lab)[-1]["sc-status"] == "500"


def test_forms_based_auth_on_exchange_breaks_the_hop_until_a_dedicated_vdir_is_named(real_eas):
    lab = real_eas(PERSONA, (EXCHANGE, "FormsBasedAuthentication", DWORD, 1))
    device = lab.client(version="2.5", device_id="FBA1")
    assert device.folder_sync().status == 500  # FBA needs SSL: the plain-HTTP hop gets 403.4
    assert "HTTP status code: [403]" in mailbox_errors(lab)[0]

    change_registry(lab, (r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\MSExchangeWeb\OWA",
                          "SSLOffloaded", DWORD, 1))
    assert device.folder_sync().status == 500  # SSL "offloaded": now the cookie filter answers 440
    assert "HTTP status code: [440]" in mailbox_errors(lab)[0]
    assert hop_rows(lab)[-1]["sc-status"] == "440"

    # KB817379: a copy of /Exchange without FBA, named by ExchangeVDir
    text = lab.service.registry_path.read_text(encoding="utf-8")
    section = text[text.index("[/LM/W3SVC/1/ROOT/Exchange]"):text.index("[/LM/W3SVC/1/ROOT/Public]")]
    oma = section.replace("[/LM/W3SVC/1/ROOT/Exchange]", "[/LM/W3SVC/1/ROOT/exchange-oma]").replace(
        '"FormsBasedAuthentication"=dword:00000001', "").replace('"AppRoot"="/LM/W3SVC/1/ROOT/Exchange"',
                                                                  '"AppRoot"="/LM/W3SVC/1/ROOT/exchange-oma"')
    lab.service.registry_path.write_text(text + "\n" + oma, encoding="utf-8")
    change_registry(lab, (MASSYNC_PARAMETERS, "ExchangeVDir", SZ, "/exchange-oma"))
    assert device.folder_sync().status == 200
    assert hop_rows(lab)[-1]["cs-uri-stem"].startswith("/exchange-oma/alice/")


def test_a_logon_redirect_is_not_followed(real_eas):
    lab = real_eas(PERSONA, (EXCHANGE, "HttpRedirect", SZ, "http://owa.contoso.com/exchweb/bin/auth/owalogon.asp"))
    assert lab.client(version="2.5", device_id="RED1").folder_sync().status == 500
    error = mailbox_errors(lab)[0]
    assert re.search(r"HTTP status code: \[30[12]\]", error) and "follows no redirects" in error
    assert not [r for r in w3c_rows(lab.service) if "owalogon" in r["cs-uri-stem"]]


# --- PITFALLS 2.2: the vdir renamed, without a restart (issue 5's done-when) -------------------


def test_renamed_exchange_vdir_is_a_500_with_event_3005_until_exchangevdir_names_it(tmp_path):
    from tests.realhost import RealHost, wait_until

    from .easclient import EasClient, HttpWire

    host = RealHost(tmp_path / "host")
    host.start()
    try:
        device = EasClient(HttpWire("127.0.0.1", host.http_port), version="2.5", device_id="RENAMED1")
        assert device.folder_sync().status == 200
        original = host.registry.read_text(encoding="utf-8")
        host.registry.write_text(original.replace("[/LM/W3SVC/1/ROOT/Exchange]", "[/LM/W3SVC/1/ROOT/Exchange2]")
                                 .replace('"AppRoot"="/LM/W3SVC/1/ROOT/Exchange"', '"AppRoot"="/LM/W3SVC/1/ROOT/Exchange2"'),
                                 encoding="utf-8")
        assert wait_until(lambda: device.folder_sync().status == 500, timeout=20, interval=0.3)
        shown = host.run_cli("eventlog", "--id", "3005", "--max", "1").stdout
        # /Exchange/alice/ now falls to the root vdir, whose static-file handler finds no such
        # folder under C:\Inetpub\wwwroot: a real 404, which the event quotes; the W3C log
        # shows both requests (a request's line is written once its answer is sent: wait for it).
        def logged():
            rows = host.w3c()
            hop_failed = any(r["cs-uri-stem"] == "/Exchange/alice/" and r["sc-status"].startswith("4") for r in rows)
            return rows if hop_failed and [r for r in rows if r["cs-method"] == "POST"][-1]["sc-status"] == "500" \
                else None

        rows = wait_until(logged)
        [hop] = [r for r in rows if r["cs-uri-stem"] == "/Exchange/alice/" and r["cs-username"] == "CONTOSO\\alice"
                 and r["sc-status"].startswith("4")][-1:]
        assert hop["cs(User-Agent)"].startswith(HOP_AGENT) and hop["sc-status"] == "404"
        assert f"HTTP status code: [{hop['sc-status']}]" in shown and "/Exchange/alice/" in shown
        assert [r for r in rows if r["cs-method"] == "POST"][-1]["sc-status"] == "500"

        host.registry.write_text(set_value(host.registry.read_text(encoding="utf-8"), MASSYNC_PARAMETERS,
                                           "ExchangeVDir", SZ, "/Exchange2"), encoding="utf-8")
        assert wait_until(lambda: device.folder_sync().status == 200, timeout=20, interval=0.3)
        assert any(r["cs-uri-stem"] == "/Exchange2/alice/" and r["sc-status"] == "207"
                   and r["cs-username"] == "CONTOSO\\alice" for r in host.w3c())
    finally:
        assert host.stop() == 0


# --- PITFALLS 2.4: no address in the vdir's SMTP domain ---------------------------------------


def test_a_user_without_an_address_in_the_vdirs_domain_gets_500_while_alice_syncs(real_eas):
    lab = real_eas(PERSONA)
    directory = lab.service.directory
    directory.add_user("CONTOSO\\carol", "P@ssw0rd", smtp=["carol@fabrikam.com"])
    directory.add_user("CONTOSO\\dave", "P@ssw0rd", smtp=["dave.w@fabrikam.com", "dwhite@contoso.com"])
    carol = lab.client(version="2.5", device_id="CAROL1", user="CONTOSO\\carol")
    dave = lab.client(version="2.5", device_id="DAVE1", user="CONTOSO\\dave")
    assert carol.folder_sync().status == 500
    assert dave.folder_sync().status == 500
    assert lab.client(version="2.5", device_id="ALICE1").folder_sync().status == 200  # the key diagnostic
    error = mailbox_errors(lab)[-1]
    assert "HTTP status code: [404]" in error and "/Exchange/carol/" in error and "carol@fabrikam.com" in error

    directory.update_user("CONTOSO\\carol", proxy_addresses=["SMTP:carol@fabrikam.com", "smtp:carol@contoso.com"])
    assert carol.folder_sync().status == 200  # the recipient policy gave her an address in contoso.com

    change_registry(lab, (MASSYNC_PARAMETERS, "SMTPProxy", SZ, "contoso.com"))  # KB886346
    assert dave.folder_sync().status == 200
    assert any(r["cs-uri-stem"].startswith("/Exchange/dwhite/") and r["cs-username"] == "CONTOSO\\dave"
               for r in w3c_rows(lab.service))


# --- PITFALLS 2.10: the home server's name and address ----------------------------------------


def test_home_server_is_found_through_the_lab_dns_or_the_hop_fails(real_eas):
    lab = real_eas(PERSONA)
    lab.service.directory.update_user("CONTOSO\\alice", home_server="EXCHANGE02")
    device = lab.client(version="2.5", device_id="DNS1")
    assert device.folder_sync().status == 500
    assert "exchange02.contoso.com does not exist" in mailbox_errors(lab)[0]
    assert not hop_rows(lab)  # the hop never left: no name, no request

    change_registry(lab, (ZONE, "A", MULTI, ["exchange01 127.0.0.1", "exchange02 127.0.0.77"]))
    assert device.folder_sync().status == 500  # resolved, but nothing listens there (fe-be-firewall)
    assert "127.0.0.77" in mailbox_errors(lab)[0] and "refused" in mailbox_errors(lab)[0]

    change_registry(lab, (ZONE, "A", MULTI, ["exchange01 127.0.0.1", "exchange02 127.0.0.1"]))
    assert device.folder_sync().status == 200
    assert hop_rows(lab)[-1]["cs-username"] == "CONTOSO\\alice"


# --- PITFALLS 2.11: a full mailbox ----------------------------------------------------------------


def test_mailbox_over_quota_is_sync_status_9_through_the_hop(real_eas):
    lab = real_eas(PERSONA)
    device = lab.client(version="2.5", device_id="FULL1")
    inbox = inbox_of(device)
    lab.store.set_mailbox_quotas(lab.mailbox, Quotas(prohibit_send_receive_kb=1))
    answer = device.sync(inbox, "0", klass="Email")
    assert answer.status == 200 and answer.text("as:Status") == "9"
    assert any(r["cs-method"] == "PUT" and r["sc-status"] == "507" for r in hop_rows(lab))
    assert not mailbox_errors(lab)  # a quota refusal is the Sync status, not a server error

    lab.store.set_mailbox_quotas(lab.mailbox, None)
    assert device.sync(inbox, "0", klass="Email").text("as:Collections/as:Collection/as:Status") == "1"
    assert lab.folder(FolderType.INBOX)


# --- credentials: Basic gives MASSYNC the password, NTLM does not ------------------------------


def _ntlm_post(port: int, url: str, body: bytes) -> int:
    """A device that logs on to the ActiveSync vdir with NTLM (one keep-alive connection)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        initiator = spnego.client("CONTOSO\\alice", "P@ssw0rd", protocol="ntlm")
        headers = {"MS-ASProtocolVersion": "2.5", "Content-Type": "application/vnd.ms-sync.wbxml"}
        conn.request("POST", url, body=body, headers={**headers, "Authorization": "NTLM " + base64.b64encode(
            initiator.step()).decode()})
        answer = conn.getresponse()
        answer.read()
        challenge = base64.b64decode(answer.getheader("WWW-Authenticate").split(" ", 1)[1])
        conn.request("POST", url, body=body, headers={**headers, "Authorization": "NTLM " + base64.b64encode(
            initiator.step(challenge)).decode()})
        answer = conn.getresponse()
        answer.read()
        return answer.status
    finally:
        conn.close()


def test_a_device_logged_on_with_ntlm_leaves_massync_no_password_for_the_hop(real_eas):
    from plugins.activesync.wbxml import encode

    from .easclient import el

    lab = real_eas(PERSONA, ("/LM/W3SVC/1/ROOT/Microsoft-Server-ActiveSync", "AuthFlags", DWORD, 4))
    url = "/Microsoft-Server-ActiveSync?Cmd=FolderSync&User=alice&DeviceId=NTLM1&DeviceType=PocketPC"
    body = encode(el("FolderHierarchy:FolderSync", None, el("FolderHierarchy:SyncKey", "0")))
    assert _ntlm_post(lab.port, url, body) == 500
    error = mailbox_errors(lab)[0]
    assert "HTTP status code: [401]" in error and "holds no password" in error
    assert device_posts(lab)[-1]["cs-username"] == "CONTOSO\\alice"
