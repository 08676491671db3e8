"""registry.ini reading and in-place editing, as a trainee and adsutil see them."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from host.regfile import (
    Location,
    RegSyntaxError,
    RegType,
    Registry,
    decode_reg_bytes,
    delete_value,
    format_value,
    key_id,
    normalize_key_path,
    set_value,
)

MASSYNC = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\MasSync\Parameters"

KB817379 = """Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\MasSync\\Parameters]
"ExchangeVDir"="/exchange-oma"
"""


def only_error(text: str) -> RegSyntaxError:
    errors = Registry.from_text(text).errors
    assert len(errors) == 1, [str(e) for e in errors]
    return errors[0]


# --- reading ----------------------------------------------------------------


def test_kb817379_snippet_pasted_verbatim_sets_exchange_vdir():
    registry = Registry.from_text(KB817379)
    assert registry.errors == []
    value = registry.value(MASSYNC, "ExchangeVDir")
    assert value.type is RegType.REG_SZ
    assert value.data == "/exchange-oma"
    assert str(value.location) == "registry.ini:4"
    assert registry.key(MASSYNC).location == Location("registry.ini", 3)


def test_kb_snippet_pasted_into_the_middle_of_a_file_still_reads():
    text = '[/LM/W3SVC/1]\n"ServerComment"="Default Web Site"\n\n' + KB817379
    registry = Registry.from_text(text)
    assert registry.errors == []
    assert registry.value(MASSYNC, "exchangevdir").data == "/exchange-oma"
    assert registry.value("/LM/W3SVC/1", "ServerComment").data == "Default Web Site"


REGEDIT_EXPORT = (
    "Windows Registry Editor Version 5.00\r\n"
    "\r\n"
    "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Lab]\r\n"
    '"Bindings"=hex(7):31,00,32,00,37,00,2e,00,30,00,2e,00,30,00,2e,00,31,00,3a,00,\\\r\n'
    "  38,00,30,00,3a,00,00,00,3a,00,34,00,34,00,33,00,3a,00,00,00,00,00\r\n"
    '"Path"=hex(2):25,00,53,00,79,00,73,00,74,00,65,00,6d,00,52,00,6f,00,6f,00,74,\\\r\n'
    "  00,25,00,5c,00,78,00,00,00\r\n"
    '"Count"=hex(4):0a,00,00,00\r\n'
    '"Big"=hex(b):01,00,00,00,00,00,00,80\r\n'
    '"Nothing"=hex(0):\r\n'
    '"Blob"=hex:de,ad,be,ef\r\n'
    '"Text"=hex(1):68,00,69,00,00,00\r\n'
)


def test_regedit_unicode_export_with_crlf_and_continued_hex_lists(tmp_path):
    path = tmp_path / "lab.reg"
    path.write_bytes(("\ufeff" + REGEDIT_EXPORT).encode("utf-16-le"))
    registry = Registry.from_file(path)
    assert registry.errors == []
    key = r"HKLM\SOFTWARE\Lab"
    assert registry.value(key, "Bindings").data == ["127.0.0.1:80:", ":443:"]
    assert registry.value(key, "Bindings").type is RegType.REG_MULTI_SZ
    path_value = registry.value(key, "Path")
    assert (path_value.type, path_value.data) == (RegType.REG_EXPAND_SZ, "%SystemRoot%\\x")
    assert str(path_value.location) == "lab.reg:6"
    assert path_value.raw.startswith("hex(2):25,00,") and path_value.raw.endswith(",00,00,00")
    assert registry.value(key, "Count").data == 10
    assert registry.value(key, "Count").type is RegType.REG_DWORD
    assert registry.value(key, "Big").data == 0x8000000000000001
    assert registry.value(key, "Nothing").data == b""
    assert registry.value(key, "Blob").data == b"\xde\xad\xbe\xef"
    assert (registry.value(key, "Text").type, registry.value(key, "Text").data) == (
        RegType.REG_SZ,
        "hi",
    )


def test_utf8_bom_file_reads_and_bom_survives_decoding(tmp_path):
    path = tmp_path / "registry.ini"
    path.write_bytes(b"\xef\xbb\xbf" + KB817379.encode())
    assert Registry.from_file(path).value(MASSYNC, "ExchangeVDir").data == "/exchange-oma"
    text, encoding = decode_reg_bytes(path.read_bytes())
    assert text.encode(encoding) == path.read_bytes()


def test_file_that_is_not_utf8_is_reported_with_its_line(tmp_path):
    path = tmp_path / "registry.ini"
    path.write_bytes(KB817379.encode() + b'"Bad"="caf\xe9"\n')
    registry = Registry.from_file(path)
    assert [str(e.location) for e in registry.errors] == ["registry.ini:5"]
    assert "UTF-8" in registry.errors[0].message or "utf-8" in registry.errors[0].message
    assert registry.value(MASSYNC, "ExchangeVDir").data == "/exchange-oma"


def test_strings_escapes_comments_and_default_value():
    registry = Registry.from_text(
        "; lab settings\n"
        "[HKCU\\Software\\Lab]  ; the key\n"
        '"Path"="C:\\\\Inetpub\\\\wwwroot" ; a comment\n'
        '"Quote"="say \\"hi\\"; not a comment"\n'
        '@="the default"\n'
    )
    assert registry.errors == []
    assert registry.value(r"HKEY_CURRENT_USER\Software\Lab", "Path").data == r"C:\Inetpub\wwwroot"
    assert registry.value(r"HKCU\Software\Lab", "Quote").data == 'say "hi"; not a comment'
    default = registry.value(r"HKCU\Software\Lab", "")
    assert (default.name, default.data) == ("", "the default")


def test_readable_multi_form_continues_over_lines():
    registry = Registry.from_text(
        "[/LM/W3SVC/1]\n"
        '"ServerBindings"=multi:"127.0.0.1:8080:", \\\n'
        '    "127.0.0.1:8081:" ; second site port\n'
        '"SecureBindings"=multi:\n'
        '"ScriptMaps"=multi:"a\\\\b,c"\n'
    )
    assert registry.errors == []
    assert registry.value("/LM/W3SVC/1", "ServerBindings").data == [
        "127.0.0.1:8080:",
        "127.0.0.1:8081:",
    ]
    assert registry.value("/LM/W3SVC/1", "SecureBindings").data == []
    assert registry.value("/LM/W3SVC/1", "ScriptMaps").data == ["a\\b,c"]


def test_keys_and_names_compare_case_insensitively_and_keep_first_spelling():
    registry = Registry.from_text(
        "[HKLM\\Software\\Lab]\n"
        '"AuthFlags"=dword:1\n'
        "[hkey_local_machine\\SOFTWARE\\lab\\]\n"
        '"AUTHFLAGS"=dword:5\n'
        '"Other"="x"\n'
    )
    key = registry.key("HKEY_LOCAL_MACHINE\\software\\LAB")
    assert key.path == "HKEY_LOCAL_MACHINE\\Software\\Lab"
    assert str(key.location) == "registry.ini:1"
    value = registry.value("hklm\\software\\lab", "authflags")
    assert (value.name, value.data, value.location.line) == ("AuthFlags", 5, 4)
    assert list(key.values) == ["authflags", "other"]
    assert len(registry.keys()) == 1


def test_deleting_a_key_removes_its_subkeys_and_a_value_deletion_removes_one_value():
    registry = Registry.from_text(
        "[/LM/W3SVC/1/ROOT]\n"
        '"Path"="c:\\\\inetpub"\n'
        '"AuthFlags"=dword:5\n'
        "[/LM/W3SVC/1/ROOT/Exchange]\n"
        '"AuthFlags"=dword:4\n'
        "[/LM/W3SVC/1/ROOTS]\n"
        "[/LM/W3SVC/1/ROOT]\n"
        '"authflags"=-\n'
        "[-/lm/w3svc/1/root/exchange]\n"
    )
    assert registry.errors == []
    assert registry.key("/LM/W3SVC/1/ROOT/Exchange") is None
    assert registry.value("/LM/W3SVC/1/ROOT", "AuthFlags") is None
    assert registry.value("/LM/W3SVC/1/ROOT", "Path").data == "c:\\inetpub"
    registry.apply_text("[-/LM/W3SVC/1/ROOT]\n", "override.reg")
    assert [k.path for k in registry.keys()] == ["/LM/W3SVC/1/ROOTS"]


def test_layered_text_merges_values_and_redefines_deleted_keys():
    registry = Registry.from_text(KB817379)
    registry.apply_text(
        f'[{MASSYNC}]\n"Extra"=dword:00000001\n"ExchangeVDir"="/exchange"\n', "lab.reg"
    )
    value = registry.value(MASSYNC, "ExchangeVDir")
    assert (value.data, str(value.location)) == ("/exchange", "lab.reg:3")
    assert registry.value(MASSYNC, "Extra").data == 1


def test_subkeys_are_direct_children_in_file_order():
    registry = Registry.from_text(
        "[/LM/W3SVC/2]\n[/LM/W3SVC/1/ROOT]\n[/LM/W3SVC/1]\n[/LM/W3SVCX]\n[HKLM\\A/B]\n"
    )
    assert [k.path for k in registry.subkeys("/lm/w3svc")] == ["/LM/W3SVC/2", "/LM/W3SVC/1"]
    assert [k.path for k in registry.subkeys("HKLM")] == ["HKEY_LOCAL_MACHINE\\A/B"]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("HKLM\\Software", "HKEY_LOCAL_MACHINE\\Software"),
        ("hkcu\\x\\", "HKEY_CURRENT_USER\\x"),
        ("HKCR", "HKEY_CLASSES_ROOT"),
        ("HKU\\.DEFAULT", "HKEY_USERS\\.DEFAULT"),
        ("HKCC\\System", "HKEY_CURRENT_CONFIG\\System"),
        ("/lm/w3svc/1/", "/lm/w3svc/1"),
        ("/LM", "/LM"),
    ],
)
def test_normalize_key_path(path, expected):
    assert normalize_key_path(path) == expected


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("HKXX\\Software", "unknown hive"),
        ("HKLM\\\\Software", "empty key name"),
        ("/LM//W3SVC", "empty key name"),
        ("/W3SVC/1", "must start with /LM"),
        ("/LM/W3SVC\\1", "use '/'"),
        ("\\Software", "hive name first"),
        ("", "empty key path"),
    ],
)
def test_bad_key_paths_say_why(path, reason):
    with pytest.raises(ValueError, match=reason):
        normalize_key_path(path)


def test_key_id_is_case_insensitive_identity():
    assert key_id("HKLM\\Software") == key_id("HKEY_LOCAL_MACHINE\\SOFTWARE\\")


# --- errors -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('"ExchangeVDir"="/exchange-oma', "unterminated string"),
        ('"AccessSSLFlags"=dword:yes', "expected a dword"),
        ('"AccessSSLFlags"=dword:000000008', "1 to 8 hex digits"),
        ('"AccessSSLFlags"=dword:', "expected a dword"),
        ('"Blob"=hex:01,zz,03', "bad hex byte 'zz'"),
        ('"Blob"=hex(z):01', "unknown value type hex(z)"),
        ('"Count"=hex(4):01,02', "exactly 4 bytes"),
        ('"Text"=hex(2):41', "even number of bytes"),
        ('"Path"="C:\\Inetpub"', "unknown escape"),
        ('"Path"="a" "b"', "unexpected text after the string"),
        ('"Path"=yes', "expected \"text\", dword:"),
        ('"Path" "x"', "expected '='"),
        ('"List"=multi:"a" "b"', "expected ','"),
        ('"List"=multi:"a",', "after the last ','"),
    ],
)
def test_bad_value_errors_name_file_line_key_and_value(line, message):
    error = only_error(f'[/LM/W3SVC/1/ROOT]\n"Before"="ok"\n{line}\n')
    assert error.location == Location("registry.ini", 3)
    assert error.key == "/LM/W3SVC/1/ROOT"
    assert error.value_name == line[1:].split('"')[0]
    assert message in error.message
    assert str(error).startswith(f"registry.ini:3: [/LM/W3SVC/1/ROOT] {error.value_name}: ")


def test_error_string_for_a_dword_that_is_not_hex():
    error = only_error('[/LM/W3SVC/1/ROOT/Exchange]\n"AccessSSLFlags"=dword:yes\n')
    assert str(error) == (
        "registry.ini:2: [/LM/W3SVC/1/ROOT/Exchange] AccessSSLFlags: expected a dword"
        " of 1 to 8 hex digits (e.g. dword:0000000a), got 'dword:yes'"
    )


def test_reading_continues_after_bad_lines():
    registry = Registry.from_text(
        "[/LM/W3SVC/1]\n"
        '"A"=dword:yes\n'
        '"B"=dword:00000002\n'
        "garbage here\n"
        "[/LM/W3SVC/2\n"
        '"Lost"=hex(q):00\n'
        "[/LM/W3SVC/3]\n"
        '"C"="three"\n'
    )
    assert [e.location.line for e in registry.errors] == [2, 4, 5, 6]
    assert registry.value("/LM/W3SVC/1", "B").data == 2
    assert registry.value("/LM/W3SVC/1", "A") is None
    assert registry.value("/LM/W3SVC/3", "C").data == "three"
    assert "broken section header" in registry.errors[2].message
    assert "hex(q)" in str(registry.errors[3])


def test_value_before_any_section_is_an_error():
    error = only_error('"ExchangeVDir"="/exchange-oma"\n' + KB817379)
    assert (error.location.line, error.key, error.value_name) == (1, None, "ExchangeVDir")
    assert "before any [KEY] section" in error.message


def test_value_under_a_key_deletion_is_an_error():
    error = only_error('[-HKLM\\Software\\Lab]\n"A"="1"\n')
    assert error.key == "HKEY_LOCAL_MACHINE\\Software\\Lab"
    assert "deletes the key" in error.message


def test_bad_key_path_in_a_header_names_the_path_and_its_line():
    error = only_error('[/LM/W3SVC/1]\n\n[HKXX\\Software]\n"A"="1"\n')
    assert (error.location.line, error.key) == (3, "HKXX\\Software")
    assert "unknown hive 'HKXX'" in str(error)


def test_default_value_name_shows_as_at_sign():
    error = only_error("[HKLM\\X]\n@=dword:zz\n")
    assert str(error).startswith("registry.ini:2: [HKEY_LOCAL_MACHINE\\X] @: ")


# --- formatting and editing -------------------------------------------------


def test_format_value_writes_reg_syntax():
    assert format_value("AuthFlags", RegType.REG_DWORD, 5) == '"AuthFlags"=dword:00000005'
    assert format_value("", RegType.REG_SZ, 'a\\"b') == '@="a\\\\\\"b"'
    assert format_value("Blob", RegType.REG_BINARY, b"\x01\xff") == '"Blob"=hex:01,ff'
    assert format_value("B", RegType.REG_MULTI_SZ, ["x", "y"]) == '"B"=multi:"x","y"'
    assert format_value("B", RegType.REG_MULTI_SZ, []) == '"B"=multi:'


def test_long_values_wrap_like_regedit_within_80_columns():
    text = format_value("Path", RegType.REG_EXPAND_SZ, "%SystemRoot%\\system32\\inetsrv\\w3isapi.dll")
    lines = text.split("\n")
    assert len(lines) > 1
    assert all(len(line) <= 80 for line in lines)
    assert all(line.endswith(",\\") for line in lines[:-1])
    assert all(line.startswith("  ") for line in lines[1:])
    bindings = format_value("ServerBindings", RegType.REG_MULTI_SZ, ["127.0.0.1:8080:"] * 6)
    assert len(bindings.split("\n")) > 1


@pytest.mark.parametrize(
    ("type_", "data", "error"),
    [
        (RegType.REG_DWORD, 2**32, ValueError),
        (RegType.REG_DWORD, "5", ValueError),
        (RegType.REG_SZ, 5, TypeError),
        (RegType.REG_SZ, "a\0b", ValueError),
        (RegType.REG_BINARY, "01", TypeError),
        (RegType.REG_MULTI_SZ, "a", TypeError),
        (RegType.REG_MULTI_SZ, ["", "a\nb"], ValueError),
    ],
)
def test_format_value_rejects_data_the_type_cannot_hold(type_, data, error):
    with pytest.raises(error):
        format_value("Name", type_, data)


EDITABLE = (
    "Windows Registry Editor Version 5.00\n"
    "\n"
    "; the default web site\n"
    "[/LM/W3SVC/1]\n"
    '"ServerBindings"=multi:"127.0.0.1:8080:",\\\n'
    '  "127.0.0.1:8081:"   ; two ports\n'
    '"AuthFlags"=dword:00000001\n'
    "\n"
    "; Exchange\n"
    "[/LM/W3SVC/1/ROOT/Exchange]\n"
    '"AccessSSLFlags"=dword:00000008 ; SSL required\n'
    "\n"
    "; trailing comment\n"
)


def test_set_value_replaces_the_effective_line_and_its_continuations():
    edited = set_value(
        EDITABLE, "/lm/w3svc/1", "serverbindings", RegType.REG_MULTI_SZ, ["127.0.0.1:80:"]
    )
    assert edited == EDITABLE.replace(
        '"ServerBindings"=multi:"127.0.0.1:8080:",\\\n  "127.0.0.1:8081:"   ; two ports\n',
        '"serverbindings"=multi:"127.0.0.1:80:"\n',
    )


def test_set_value_appends_after_the_last_value_of_the_key():
    edited = set_value(EDITABLE, "/LM/W3SVC/1", "Path", RegType.REG_SZ, "c:\\inetpub")
    assert edited == EDITABLE.replace(
        '"AuthFlags"=dword:00000001\n',
        '"AuthFlags"=dword:00000001\n"Path"="c:\\\\inetpub"\n',
    )


def test_set_value_adds_a_section_for_a_new_key_at_the_end():
    edited = set_value(EDITABLE, "HKLM\\SYSTEM\\X", "ExchangeVDir", RegType.REG_SZ, "/ex")
    assert edited == EDITABLE + '\n[HKEY_LOCAL_MACHINE\\SYSTEM\\X]\n"ExchangeVDir"="/ex"\n'
    assert set_value("", "/LM", "A", RegType.REG_DWORD, 1) == '[/LM]\n"A"=dword:00000001\n'


def test_set_value_keeps_crlf_and_a_missing_final_newline():
    text = '[/LM/W3SVC/1]\r\n"A"=dword:00000001\r\n"B"=dword:00000002'
    edited = set_value(text, "/LM/W3SVC/1", "C", RegType.REG_DWORD, 3)
    assert edited == text + '\r\n"C"=dword:00000003'
    edited = set_value(text, "/LM/W3SVC/1", "A", RegType.REG_DWORD, 9)
    assert edited == text.replace("00000001", "00000009")


def test_set_value_replaces_a_broken_definition_so_the_error_goes_away():
    text = '[/LM/W3SVC/1/ROOT]\n"AccessSSLFlags"=dword:yes\n'
    edited = set_value(text, "/LM/W3SVC/1/ROOT", "AccessSSLFlags", RegType.REG_DWORD, 8)
    assert edited == '[/LM/W3SVC/1/ROOT]\n"AccessSSLFlags"=dword:00000008\n'
    assert Registry.from_text(edited).errors == []


def test_set_value_after_a_key_deletion_writes_a_live_section():
    text = '[/LM/W3SVC/1/ROOT]\n"A"=dword:00000001\n[-/LM/W3SVC/1]\n'
    edited = set_value(text, "/LM/W3SVC/1/ROOT", "A", RegType.REG_DWORD, 2)
    assert edited.startswith(text)
    assert Registry.from_text(edited).value("/LM/W3SVC/1/ROOT", "A").data == 2


def test_delete_value_removes_every_live_definition_and_keeps_the_rest():
    text = EDITABLE + '[/LM/W3SVC/1]\n"authflags"=dword:00000005\n'
    edited = delete_value(text, "/LM/W3SVC/1", "AuthFlags")
    assert edited == text.replace('"AuthFlags"=dword:00000001\n', "").replace(
        '"authflags"=dword:00000005\n', ""
    )
    assert Registry.from_text(edited).value("/LM/W3SVC/1", "AuthFlags") is None
    assert delete_value(text, "/LM/W3SVC/1", "NotThere") == text


def test_set_value_keeps_a_bom_and_utf16_round_trips(tmp_path):
    data = ("\ufeff" + REGEDIT_EXPORT).encode("utf-16-le")
    text, encoding = decode_reg_bytes(data)
    edited = set_value(text, "HKLM\\SOFTWARE\\Lab", "Count", RegType.REG_DWORD, 11)
    path = tmp_path / "lab.reg"
    path.write_bytes(edited.encode(encoding))
    registry = Registry.from_file(path)
    assert registry.errors == []
    assert registry.value("HKLM\\SOFTWARE\\Lab", "Count").data == 11
    assert registry.value("HKLM\\SOFTWARE\\Lab", "Path").data == "%SystemRoot%\\x"
    assert edited.replace('"Count"=dword:0000000b', '"Count"=hex(4):0a,00,00,00') == text


# --- round trip -------------------------------------------------------------

_text = st.text(st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)), max_size=40)
_line_text = st.text(
    st.characters(blacklist_characters="\0\r\n", blacklist_categories=("Cs",)), max_size=30
)
_typed_data = st.one_of(
    st.tuples(st.just(RegType.REG_SZ), _text),
    st.tuples(st.just(RegType.REG_EXPAND_SZ), _text),
    st.tuples(st.just(RegType.REG_DWORD), st.integers(0, 2**32 - 1)),
    st.tuples(st.just(RegType.REG_QWORD), st.integers(0, 2**64 - 1)),
    st.tuples(st.just(RegType.REG_BINARY), st.binary(max_size=60)),
    st.tuples(st.just(RegType.REG_MULTI_SZ), st.lists(_line_text, max_size=8)),
)
_keys = st.sampled_from(
    ["/LM/W3SVC/1", "/lm/w3svc/1/root/exchange", "/LM/W3SVC/2", "HKLM\\Software\\Lab"]
)
BASE = EDITABLE + '[-/LM/W3SVC/2]\n[HKEY_LOCAL_MACHINE\\Software\\Lab]\n@="x"\n"Blob"=hex:01\n'


def _snapshot(registry: Registry) -> dict[tuple[str, str], tuple[RegType, object]]:
    return {
        (key_id(key.path), folded): (value.type, value.data)
        for key in registry.keys()
        for folded, value in key.values.items()
    }


@settings(max_examples=150, deadline=None)
@given(
    key=_keys,
    name=st.one_of(st.sampled_from(["AuthFlags", "SERVERBINDINGS", "", "blob"]), _line_text),
    typed=_typed_data,
    crlf=st.booleans(),
)
def test_set_value_round_trips_and_leaves_everything_else_alone(key, name, typed, crlf):
    type_, data = typed
    base = BASE.replace("\n", "\r\n") if crlf else BASE
    before = Registry.from_text(base)
    edited = set_value(base, key, name, type_, data)
    after = Registry.from_text(edited)
    assert after.errors == []
    value = after.value(key, name)
    assert (value.type, value.data) == (type_, data)
    expected = _snapshot(before)
    expected[(key_id(key), name.casefold())] = (type_, data)
    assert _snapshot(after) == expected
    if crlf:
        assert "\n" not in edited.replace("\r\n", "")
    else:
        assert "\r" not in edited
    removed = delete_value(edited, key, name)
    del expected[(key_id(key), name.casefold())]
    assert _snapshot(Registry.from_text(removed)) == expected
