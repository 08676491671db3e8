"""The request pipeline in-process: every IIS status.substatus a trainee meets, for its real cause."""
from __future__ import annotations

from cryptography import x509

from conftest import DWORD, EAS, EXCHANGE, MULTI, ROOT, SZ, basic, w3c_lines
from host import HttpError, hookimpl
from host.scriptmaps import Handler
from host.testing import https_environ

ALICE = basic("CONTOSO\\alice", "P@ssw0rd")


class EchoPlugin:
    """A throwaway handler answering as ``echo.dll`` with the server variables it was given."""

    @hookimpl
    def register_handlers(self):
        def echo(environ, start_response):
            names = ("AUTH_TYPE", "AUTH_USER", "LOGON_USER", "HTTPS", "HTTPS_KEYSIZE", "CERT_SUBJECT", "INSTANCE_ID",
                     "APPL_MD_PATH", "APPL_PHYSICAL_PATH", "SCRIPT_NAME", "PATH_INFO", "REMOTE_USER")
            body = "\n".join(f"{n}={environ.get(n, '')}" for n in names).encode()
            start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
            return [body]

        def broken(environ, start_response):
            raise RuntimeError("the handler fell over")

        return [Handler("echo.dll", lambda service: echo), Handler("broken.dll", lambda service: broken)]


def _vars(response) -> dict[str, str]:
    return dict(line.split("=", 1) for line in response.text.splitlines())


def echo_on(key: str, *extra) -> list:
    return [(key, "ScriptMaps", MULTI, ["*,C:\\lab\\echo.dll,1"]), *extra]


def test_default_site_serves_iisstart_page(lab):
    _, app = lab()
    response = app.get("/")
    assert "Under Construction" in response.text
    assert response.headers["Content-Type"].startswith("text/html")


def test_exchange_requires_ssl_gives_403_4_logged_as_403_4(lab):
    service, app = lab(set_values=[(EXCHANGE, "AccessSSLFlags", DWORD, 8)])
    response = app.get("/exchange/", headers=ALICE, status=403)
    assert "HTTP Error 403.4 - Forbidden: SSL is required to view this resource." in response.text
    line = w3c_lines(service.data_dir)[-1]
    assert (line["cs-uri-stem"], line["sc-status"], line["sc-substatus"], line["sc-win32-status"]) == \
        ("/exchange/", "403", "4", "5")


def test_ssl_binding_passes_accessssl(lab):
    pm_plugin = EchoPlugin()
    from host.plugins import make_plugin_manager

    _, app = lab(set_values=echo_on(EXCHANGE, (EXCHANGE, "AccessSSLFlags", DWORD, 8)),
                 pm=make_plugin_manager(extra=[pm_plugin]))
    env = _vars(app.get("/Exchange/x", headers=ALICE, extra_environ=https_environ()))
    assert env["HTTPS"] == "on" and env["HTTPS_KEYSIZE"] == "256"


def test_accessssl128_refuses_weak_cipher_with_403_5(lab):
    _, app = lab(set_values=[(EXCHANGE, "AccessSSLFlags", DWORD, 8 | 256)])
    response = app.get("/Exchange/", headers=ALICE, extra_environ=https_environ(secret_bits=56), status=403)
    assert "403.5" in response.text


def test_require_cert_without_certificate_gives_403_7(lab):
    _, app = lab(set_values=[(EAS, "AccessSSLFlags", DWORD, 8 | 32 | 64)])
    env = https_environ(client_certificate=None)
    response = app.get("/Microsoft-Server-ActiveSync", headers=ALICE, extra_environ=env, status=403)
    assert "HTTP Error 403.7" in response.text
    assert env["host.tls"].requests == 1  # asked after the request was read, as IIS 6 renegotiates


def test_negotiate_cert_asks_only_on_the_vdir_that_negotiates(lab):
    _, app = lab(set_values=[(EAS, "AccessSSLFlags", DWORD, 8 | 32)])
    env = https_environ(client_certificate=None)
    app.get("/", extra_environ=env)
    assert env["host.tls"].requests == 0
    response = app.get("/Microsoft-Server-ActiveSync", headers=ALICE, extra_environ=env, status="*")
    assert response.status_int != 403 and env["host.tls"].requests == 1


def test_client_that_cannot_renegotiate_fails_on_accept(lab):
    _, app = lab(set_values=[(EAS, "AccessSSLFlags", DWORD, 8 | 32)])
    env = https_environ(can_answer=False)
    response = app.get("/Microsoft-Server-ActiveSync", headers=ALICE, extra_environ=env, status=403)
    assert "403.7" in response.text and env["host.tls"].requests == 1


def test_expired_client_certificate_gives_403_17_untrusted_403_16(lab):
    service, app = lab(set_values=[(EAS, "AccessSSLFlags", DWORD, 8 | 32 | 64)])
    expired = service.pki.issue_client("alice@contoso.com", not_after=_days(-1), not_before=_days(-30))
    untrusted = service.pki.issue_client("alice@contoso.com", issuer="untrusted")
    for cert, sub in ((expired, "403.17"), (untrusted, "403.16")):
        env = https_environ(client_certificate=_load(cert))
        assert sub in app.get("/Microsoft-Server-ActiveSync", headers=ALICE, extra_environ=env, status=403).text


def test_mapped_client_certificate_authenticates_the_user(lab):
    from host.plugins import make_plugin_manager

    service, app = lab(set_values=echo_on(EAS, (EAS, "AccessSSLFlags", DWORD, 8 | 32 | 64 | 128)),
                       pm=make_plugin_manager(extra=[EchoPlugin()]))
    cert = _load(service.pki.issue_client("alice@contoso.com"))
    env = _vars(app.get("/Microsoft-Server-ActiveSync", extra_environ=https_environ(client_certificate=cert)))
    assert env["AUTH_TYPE"] == "SSL/PCT" and env["LOGON_USER"] == "CONTOSO\\alice"
    assert "CN=" in env["CERT_SUBJECT"]
    carol = _load(service.pki.issue_client("carol@contoso.com"))
    response = app.get("/Microsoft-Server-ActiveSync", extra_environ=https_environ(client_certificate=carol), status=403)
    assert "403.12" in response.text


def test_anonymous_off_sends_integrated_then_basic_challenges_401_2(lab):
    service, app = lab()
    response = app.get("/Exchange/", status=401)
    assert response.headers.getall("WWW-Authenticate") == ["Negotiate", "NTLM", 'Basic realm="127.0.0.1"']
    assert "401.2" in response.text
    assert w3c_lines(service.data_dir)[-1]["sc-substatus"] == "2"


def test_no_auth_method_at_all_gives_401_2_without_challenge(lab):
    _, app = lab(set_values=[(EXCHANGE, "AuthFlags", DWORD, 0)])
    response = app.get("/Exchange/", headers=ALICE, status=401)
    assert response.headers.getall("WWW-Authenticate") == []


def test_ntlm_on_a_basic_only_vdir_gives_401_2(lab):
    _, app = lab(set_values=[(EXCHANGE, "AuthFlags", DWORD, 2)])
    response = app.get("/Exchange/", headers={"Authorization": "NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw=="},
                       status=401)
    assert response.headers.getall("WWW-Authenticate") == ['Basic realm="127.0.0.1"']
    assert "401.2" in response.text


def test_wrong_password_gives_401_1_with_win32_1326_and_no_secret_in_log(lab):
    service, app = lab()
    app.get("/Exchange/", headers=basic("CONTOSO\\alice", "Secret-Wrong-1"), status=401)
    line = w3c_lines(service.data_dir)[-1]
    assert (line["sc-status"], line["sc-substatus"], line["sc-win32-status"]) == ("401", "1", "1326")
    log_text = "".join(p.read_text() for p in (service.data_dir / "LogFiles").rglob("*.log"))
    assert "Secret-Wrong-1" not in log_text and "Authorization" not in log_text


def test_basic_logon_forms_and_server_variables(lab):
    from host.plugins import make_plugin_manager

    service, app = lab(set_values=echo_on(EXCHANGE), pm=make_plugin_manager(extra=[EchoPlugin()]))
    for name in ("CONTOSO\\alice", "alice@contoso.com", "alice"):
        env = _vars(app.get("/exchange/alice/Inbox", headers=basic(name, "P@ssw0rd")))
        assert env["LOGON_USER"] == "CONTOSO\\alice" and env["AUTH_TYPE"] == "Basic" and env["AUTH_USER"] == name
    assert env["SCRIPT_NAME"] == "/exchange" and env["PATH_INFO"] == "/alice/Inbox"
    assert env["APPL_MD_PATH"] == EXCHANGE and env["INSTANCE_ID"] == "1" and env["HTTPS"] == "off"
    assert w3c_lines(service.data_dir)[-1]["cs-username"] == "CONTOSO\\alice"


def test_default_logon_domain_completes_bare_names(lab):
    service, app = lab(set_values=[(EXCHANGE, "DefaultLogonDomain", SZ, "FABRIKAM")])
    app.get("/Exchange/", headers=basic("alice", "P@ssw0rd"), status=401)
    service.directory.add_domain("FABRIKAM", "fabrikam.com")
    service.directory.add_user("FABRIKAM\\alice", "P@ssw0rd", smtp=["alice@fabrikam.com"])
    app.get("/Exchange/", headers=basic("alice", "P@ssw0rd"), status=404)  # authenticated; davex.dll not yet here


def test_unregistered_isapi_gives_404_2(lab):
    _, app = lab(set_values=[(EXCHANGE, "ScriptMaps", MULTI, ["*,C:\\x\\nothere.dll,1"])])
    assert "404.2" in app.get("/Exchange/", headers=ALICE, status=404).text


def test_script_map_needs_script_permission_403_1(lab):
    from host.plugins import make_plugin_manager

    _, app = lab(set_values=echo_on(EXCHANGE, (EXCHANGE, "AccessFlags", DWORD, 1)),
                 pm=make_plugin_manager(extra=[EchoPlugin()]))
    assert "403.1" in app.get("/Exchange/", headers=ALICE, status=403).text


def test_static_file_needs_read_403_2(lab):
    _, app = lab(set_values=[(ROOT, "AccessFlags", DWORD, 0x200)])
    assert "403.2" in app.get("/iisstart.htm", status=403).text


def test_directory_without_default_doc_403_14_or_listing(lab):
    _, app = lab(set_values=[(ROOT, "DefaultDoc", SZ, "nothing.htm")])
    assert "403.14" in app.get("/", status=403).text
    _, app = lab(set_values=[(ROOT, "DefaultDoc", SZ, "nothing.htm"), (ROOT, "EnableDirBrowsing", DWORD, 1)])
    assert "iisstart.htm" in app.get("/").text


def test_missing_file_404_and_unknown_mime_404_3(lab, tmp_path):
    _, app = lab()
    app.get("/nothere.htm", status=404)
    app.get("/iisstart.htm/x", status=404)


def test_path_never_leaves_the_content_root(lab):
    _, app = lab()
    for url in ("/..%2f..%2fsetup.cfg", "/../setup.cfg", "/%2e%2e/registry.ini", "/..\\setup.cfg"):
        response = app.get(url, status="*")
        assert response.status_int in (400, 404) and b"easlab" not in response.body


def test_post_to_static_file_is_405(lab):
    _, app = lab()
    assert app.post("/iisstart.htm", status=405).headers["Allow"].startswith("GET")


def test_max_request_entity_allowed_413(lab):
    _, app = lab(set_values=[(ROOT, "MaxRequestEntityAllowed", DWORD, 10)])
    app.post("/iisstart.htm", params=b"x" * 11, status=413)


def test_ip_security_denies_with_403_6(lab):
    _, app = lab(set_values=[(EXCHANGE, "IPSecurity", MULTI, ["DenyByDefault", "Grant 127.0.0.1"])])
    assert app.get("/Exchange/", headers=ALICE, status="*").status_int != 403
    response = app.get("/Exchange/", headers=ALICE, extra_environ={"REMOTE_ADDR": "10.1.2.3"}, status=403)
    assert "403.6" in response.text


def test_host_header_binding_selects_site_or_400(lab):
    text = _with_second_site()
    _, app = lab(text=text)
    assert "Under Construction" in app.get("/", headers={"Host": "www.contoso.com:8080"}).text
    assert "403.14" in app.get("/", headers={"Host": "intranet.contoso.com:8080"}, status=403).text  # site 2
    _, app = lab(text=text.replace('"127.0.0.1:8080:"', '"127.0.0.1:8080:www.contoso.com"'))
    app.get("/", headers={"Host": "other.contoso.com"}, status=400)


def test_http_redirect_appends_the_rest_unless_exact(lab):
    _, app = lab(set_values=[(ROOT, "HttpRedirect", SZ, "/Exchange, PERMANENT")])
    response = app.get("/iisstart.htm", status=301)
    assert response.headers["Location"] == "/Exchange/iisstart.htm"
    _, app = lab(set_values=[(ROOT, "HttpRedirect", SZ, "/Exchange, EXACT_DESTINATION")])
    assert app.get("/a/b", status=302).headers["Location"] == "/Exchange"


def test_handler_exception_is_a_500_page_and_an_event(lab):
    from host.plugins import make_plugin_manager

    service, app = lab(set_values=[(EXCHANGE, "ScriptMaps", MULTI, ["*,C:\\x\\broken.dll,1"])],
                       pm=make_plugin_manager(extra=[EchoPlugin()]))
    response = app.get("/Exchange/", headers=ALICE, status=500)
    assert "Traceback" not in response.text
    event = service.eventlog.query(source="W3SVC-WP")[0]
    assert "the handler fell over" in event.text


def test_handler_raising_http_error_gets_iis_page(lab):
    class Teapot:
        @hookimpl
        def register_handlers(self):
            def app(environ, start_response):
                raise HttpError(403, 6, 5)

            return [Handler("deny.dll", lambda service: app)]

    from host.plugins import make_plugin_manager

    _, app = lab(set_values=[(EXCHANGE, "ScriptMaps", MULTI, ["*,C:\\x\\deny.dll,1"])],
                 pm=make_plugin_manager(extra=[Teapot()]))
    assert "HTTP Error 403.6" in app.get("/Exchange/", headers=ALICE, status=403).text


# --- helpers ---------------------------------------------------------------------------


def _days(n: int):
    from datetime import datetime, timedelta, timezone

    return datetime.now(timezone.utc) + timedelta(days=n)


def _load(issued) -> x509.Certificate:
    return x509.load_pem_x509_certificate(issued.cert_path.read_bytes())


def _with_second_site() -> str:
    from host.testing import registry_text

    text = registry_text()
    text = text.replace('"ServerBindings"=multi:"127.0.0.1:8080:"',
                        '"ServerBindings"=multi:"127.0.0.1:8080:www.contoso.com"')
    return text + ('\n[/LM/W3SVC/2]\n"ServerComment"="Intranet"\n'
                   '"ServerBindings"=multi:"127.0.0.1:8080:intranet.contoso.com"\n\n'
                   '[/LM/W3SVC/2/ROOT]\n"Path"="C:\\\\Program Files\\\\Exchsrvr\\\\ExchWeb"\n')
