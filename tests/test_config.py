"""registry.ini validation and the metabase model: errors name file, line and key; values inherit."""
from __future__ import annotations

import pytest

from host.config import build_config, load_config
from host.metabase import PropertyTable
from host.plugins import collect, make_plugin_manager
from host.regfile import Registry
from host.service import default_registry_path
from host.testing import registry_text


@pytest.fixture(scope="module")
def table():
    return PropertyTable(collect(make_plugin_manager().hook.register_registry_properties()))


def config_of(text, table):
    return build_config(Registry.from_text(text, "registry.ini"), table)


def test_shipped_registry_is_valid_and_has_exchange_vdirs(table):
    config = load_config(default_registry_path(), table)
    assert config.issues == []
    site = config.sites[1]
    assert [str(b) for b in site.bindings] == ["127.0.0.1:8080:"]
    assert [str(b) for b in site.secure_bindings] == ["127.0.0.1:8443:"]
    names = {v.url_path for v in site.vdirs.values() if v.is_virtual}
    assert {"/Exchange", "/Microsoft-Server-ActiveSync", "/ExchWeb", "/Public", "/OMA", "/Exadmin"} <= names
    assert config.vdir("/LM/W3SVC/1/ROOT/Microsoft-Server-ActiveSync").get("ScriptMaps")[0].handler_name == "massync.dll"


def test_type_error_names_file_line_key_and_hint(table):
    text = registry_text().replace('"AuthFlags"=dword:00000006', '"AuthFlags"="yes"', 1)
    line = text.splitlines().index('"AuthFlags"="yes"') + 1
    config = config_of(text, table)
    assert [str(e) for e in config.errors] == [
        f'registry.ini:{line}: [/LM/W3SVC/1/ROOT/Exchange] AuthFlags: expected dword, got "yes"\n'
        "Hint: flags are hex, e.g. dword:00000006 for AuthBasic | AuthNTLM."
    ]


def test_syntax_error_and_bad_binding_are_errors(table):
    text = registry_text().replace('"ServerBindings"=multi:"127.0.0.1:8080:"', '"ServerBindings"=multi:"127.0.0.1:80x:"')
    text += '\n[/LM/W3SVC/1/ROOT/Broken]\n"Path"="unterminated\n'
    messages = [str(e) for e in config_of(text, table).errors]
    assert any('ServerBindings: "127.0.0.1:80x:": port "80x" is not a number from 1 to 65535' in m for m in messages)
    assert any("[/LM/W3SVC/1/ROOT/Broken] Path:" in m for m in messages)


def test_unknown_property_and_key_are_warnings_with_location(table):
    text = registry_text() + '\n[/LM/W3SVC/1/ROOT/Exchange]\n"AuthFlagz"=dword:00000001\n' \
                             '\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Contoso]\n"Thing"="x"\n'
    config = config_of(text, table)
    assert config.errors == []
    warnings = [str(w) for w in config.warnings]
    assert any("[/LM/W3SVC/1/ROOT/Exchange] AuthFlagz: unknown property" in w for w in warnings)
    assert any("[HKEY_LOCAL_MACHINE\\SOFTWARE\\Contoso] unknown key" in w for w in warnings)


def test_property_on_the_wrong_kind_of_key_says_where_it_belongs(table):
    config = config_of(registry_text() + '\n[/LM/W3SVC/1/ROOT/Exchange]\n"ServerBindings"=multi:"127.0.0.1:1:"\n', table)
    assert any("unknown property here (it belongs on " in str(w) and "site" in str(w) for w in config.warnings)


def test_values_inherit_and_record_their_origin(table):
    config = config_of(registry_text(), table)
    exchange = config.vdir("/LM/W3SVC/1/ROOT/Exchange")
    inherited = exchange.setting("UploadReadAheadSize")
    assert inherited.value == 49152 and inherited.origin.key == "/LM/W3SVC"
    own = exchange.setting("AuthFlags")
    assert own.origin.key == "/LM/W3SVC/1/ROOT/Exchange" and str(own.origin).startswith("registry.ini:")
    assert str(exchange.setting("EnableDirBrowsing").origin) == "default"
    # Path does not inherit: a directory below a vdir takes its vdir's Path
    auth = config.vdir("/LM/W3SVC/1/ROOT/ExchWeb/bin/auth")
    assert not auth.is_virtual and auth.application.url_path == "/ExchWeb"
    assert auth.get("AccessFlags") == 0x205 and auth.get("AuthFlags") == 1


def test_key_paths_are_case_insensitive(table):
    text = registry_text() + '\n[/lm/w3svc/1/root/EXCHANGE]\n"AccessSSLFlags"=dword:00000008\n'
    assert config_of(text, table).vdir("/LM/W3SVC/1/ROOT/Exchange").get("AccessSSLFlags") == 8


def test_kb817379_snippet_pasted_verbatim_works(table):
    snippet = ("Windows Registry Editor Version 5.00\n\n"
               "[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\MasSync\\Parameters]\n"
               '"ExchangeVDir"="/exchange-oma"\n')
    config = config_of(registry_text() + "\n" + snippet, table)
    assert config.errors == []
    assert config.registry_value("HKLM\\SYSTEM\\CurrentControlSet\\Services\\MasSync\\Parameters",
                                 "ExchangeVDir") == "/exchange-oma"


def test_absent_exchange_vdir_value_means_exchange(table):
    config = config_of(registry_text(), table)
    key = "HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\MasSync\\Parameters"
    assert config.registry_value(key, "ExchangeVDir") == "/Exchange"


def test_two_sites_on_one_binding_name_both_claimants(table):
    text = registry_text() + '\n[/LM/W3SVC/2]\n"ServerBindings"=multi:"127.0.0.1:8080:"\n[/LM/W3SVC/2/ROOT]\n' \
                             '"Path"="C:\\\\Inetpub\\\\wwwroot"\n'
    errors = [str(e) for e in config_of(text, table).errors]
    assert len(errors) == 1
    assert "[/LM/W3SVC/1] ServerBindings (registry.ini:" in errors[0]
    assert "[/LM/W3SVC/2] ServerBindings (registry.ini:" in errors[0]


def test_same_port_for_http_and_https_is_an_error(table):
    text = registry_text().replace('"127.0.0.1:8443:"', '"127.0.0.1:8080:"')
    assert any("port 8080 is bound for both http and https" in str(e) for e in config_of(text, table).errors)


def test_resolve_is_longest_prefix_segment_wise(table):
    site = config_of(registry_text(), table).sites[1]
    key, script, info = site.resolve("/exchweb/bin/auth/owaauth.dll")
    assert key.path == "/LM/W3SVC/1/ROOT/ExchWeb/bin/auth" and script == "/exchweb" and info == "/bin/auth/owaauth.dll"
    key, script, info = site.resolve("/Exchangeable/x")
    assert key.url_path == "/" and script == "" and info == "/Exchangeable/x"
    key, script, info = site.resolve("/Microsoft-Server-ActiveSync")
    assert script == "/Microsoft-Server-ActiveSync" and info == ""


def test_bad_flag_names_and_persona(table):
    text = registry_text().replace('"EmulatedVersion"="Exchange 2003 SP2"', '"EmulatedVersion"="Exchange 2042"')
    errors = [str(e) for e in config_of(text, table).errors]
    assert errors and 'EmulatedVersion: "Exchange 2042" is not an emulated version' in errors[0]
