"""HTTP.sys limits and URLScan: refused before vdir resolution, with the trail a real server leaves."""
from __future__ import annotations

from conftest import MULTI, SZ, basic, w3c_lines
from host.regfile import RegType

URLSCAN = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\UrlScan"
FILTERS = "/LM/W3SVC/Filters"
DWORD = RegType.REG_DWORD


def urlscan(*extra):
    """URLScan installed by IISLockdown with its strict defaults (no OPTIONS, no WebDAV verbs)."""
    return [(FILTERS, "FilterLoadOrder", SZ, "UrlScan"),
            ("/LM/W3SVC/Filters/UrlScan", "FilterPath", SZ, "C:\\WINDOWS\\system32\\inetsrv\\urlscan\\urlscan.dll"),
            (URLSCAN, "AllowVerbs", MULTI, ["GET", "HEAD", "POST"]), *extra]


def test_urlscan_refuses_options_with_404_and_logs_rejected_by_urlscan(lab):
    service, app = lab(set_values=urlscan())
    app.options("/Microsoft-Server-ActiveSync", status=404)
    row = w3c_lines(service.data_dir)[-1]
    assert row["cs-uri-stem"] == "/<Rejected-By-UrlScan>" and row["cs-uri-query"] == "~/Microsoft-Server-ActiveSync"
    log = next((service.data_dir / "UrlScan").glob("UrlScan.*.log")).read_text()
    assert "Sent verb 'OPTIONS', which is not specifically allowed. Request will be rejected." in log


def test_urlscan_refuses_high_bit_urls_until_allowed(lab):
    _, app = lab(set_values=urlscan())
    app.get("/Gesch%C3%A4ftlich.htm", status=404)
    service, app = lab(set_values=urlscan((URLSCAN, "AllowHighBitCharacters", DWORD, 1)))
    app.get("/Gesch%C3%A4ftlich.htm", status=404)
    assert w3c_lines(service.data_dir)[-1]["cs-uri-stem"] != "/<Rejected-By-UrlScan>"


def test_kb823175_template_lets_exchange_verbs_through(lab):
    verbs = ["GET", "HEAD", "POST", "OPTIONS", "PROPFIND", "PROPPATCH", "SEARCH", "MOVE", "COPY", "DELETE",
             "MKCOL", "BPROPPATCH", "BDELETE", "BMOVE", "SUBSCRIBE", "POLL", "X-MS-ENUMATTS"]
    service, app = lab(set_values=urlscan((URLSCAN, "AllowVerbs", MULTI, verbs),
                                          (URLSCAN, "AllowDotInPath", DWORD, 1)))
    response = app.request("/exchange/alice/Inbox/", method="PROPFIND", headers={**basic("CONTOSO\\alice", "P@ssw0rd"),
                           "Depth": "0"}, status="*")
    assert response.status_int == 207
    assert w3c_lines(service.data_dir)[-1]["cs-uri-stem"] == "/exchange/alice/Inbox/"


def test_urlscan_is_inactive_unless_in_filter_load_order(lab):
    _, app = lab(set_values=[(URLSCAN, "AllowVerbs", MULTI, ["GET"])])
    app.options("/", status=200)


def test_urlscan_deny_sequences_and_extensions(lab):
    _, app = lab(set_values=urlscan((URLSCAN, "DenyExtensions", MULTI, [".exe"]),
                                    (URLSCAN, "DenyUrlSequences", MULTI, ["%"])))
    app.get("/setup.exe", status=404)
    app.get("/iisstart.htm", status=200)


def test_http_sys_refuses_long_header_lines_with_400(lab):
    _, app = lab(set_values=[(r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\HTTP\Parameters",
                              "MaxFieldLength", DWORD, 100)])
    app.get("/", headers={"X-Long": "x" * 200}, status=400)
    app.get("/", status=200)


def test_http_sys_refuses_long_url_segments_with_400(lab):
    _, app = lab()
    app.get("/" + "a" * 261, status=400)


def test_unknown_mime_type_is_404_3_and_default_doc(lab, tmp_path):
    root = tmp_path / "c"
    (root / "Inetpub" / "wwwroot").mkdir(parents=True)
    (root / "Inetpub" / "wwwroot" / "secret.ini").write_text("password=1")
    (root / "Inetpub" / "wwwroot" / "Default.htm").write_text("<p>default</p>")
    from host.testing import make_test_host

    service, app = make_test_host(tmp_path / "h", content_root=root)
    try:
        assert "404.3" in app.get("/secret.ini", status=404).text
        assert "default" in app.get("/").text
        assert app.get("/DEFAULT.HTM").text == "<p>default</p>"  # NTFS: case-insensitive
    finally:
        service.stop()
