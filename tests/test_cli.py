"""The command line: one line per error, exit 2 for an invalid registry.ini, in-place edits."""
from __future__ import annotations

import subprocess
import sys

import pytest

from host.cli import main
from host.testing import registry_text


@pytest.fixture
def paths(tmp_path):
    registry = tmp_path / "registry.ini"
    registry.write_text(registry_text(), encoding="utf-8")
    return ["--registry", str(registry), "--data", str(tmp_path / "data")], registry


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_config_check_ok_and_error_exit_2(capsys, paths):
    common, registry = paths
    status, out, _ = run(capsys, "config", "check", *common)
    assert status == 0 and "OK (1 site(s), 9 virtual directories" in out
    registry.write_text(registry.read_text().replace('"AccessFlags"=dword:00000203', '"AccessFlags"=dword:yes', 1))
    status, out, _ = run(capsys, "config", "check", *common)
    assert status == 2
    assert "[/LM/W3SVC/1/ROOT/Exchange] AccessFlags:" in out and "registry.ini:" in out


def test_adsutil_set_edits_in_place_keeping_comments(capsys, paths):
    common, registry = paths
    before = registry.read_text().splitlines()
    status, out, _ = run(capsys, "adsutil", "set", "W3SVC/1/ROOT/Exchange/AccessSSLFlags", "8", *common)
    assert status == 0 and "AccessSSLFlags" in out and "(INTEGER) 8" in out
    after = registry.read_text().splitlines()
    changed = [(a, b) for a, b in zip(before, after) if a != b]
    assert changed == [('"AccessSSLFlags"=dword:00000000', '"AccessSSLFlags"=dword:00000008')]
    status, out, _ = run(capsys, "adsutil", "get", "W3SVC/1/ROOT/Exchange/AccessSSLFlags", *common)
    assert "(INTEGER) 8" in out


def test_adsutil_flag_alias_and_inherited_value(capsys, paths):
    common, registry = paths
    run(capsys, "adsutil", "set", "W3SVC/1/ROOT/Exchange/AuthNTLM", "FALSE", *common)
    assert '"AuthFlags"=dword:00000002' in registry.read_text()
    status, out, _ = run(capsys, "adsutil", "get", "W3SVC/1/ROOT/Exchange/UploadReadAheadSize", *common)
    assert "49152" in out and "inherited from [/LM/W3SVC]" in out


def test_adsutil_refuses_a_bad_value_without_writing(capsys, paths):
    common, registry = paths
    before = registry.read_text()
    status, _, err = run(capsys, "adsutil", "set", "W3SVC/1/ServerBindings", "127.0.0.1:http:", *common)
    assert status == 2 and 'port "http"' in err and registry.read_text() == before
    status, _, err = run(capsys, "adsutil", "set", "W3SVC/1/ROOT/Exchange/AuthFlagz", "1", *common)
    assert status == 1 and 'The parameter "AuthFlagz" is not known' in err


def test_reg_add_and_query_like_reg_exe(capsys, paths):
    common, registry = paths
    key = r"HKLM\SYSTEM\CurrentControlSet\Services\MasSync\Parameters"
    status, out, _ = run(capsys, "reg", "add", key, "/v", "ExchangeVDir", "/t", "REG_SZ", "/d", "/exchange-oma", "/f", *common)
    assert status == 0 and "completed successfully" in out
    status, out, _ = run(capsys, "reg", "query", key, "/v", "ExchangeVDir", *common)
    assert "ExchangeVDir    REG_SZ    /exchange-oma" in out
    status, _, err = run(capsys, "reg", "add", key, "/v", "MaxHeartbeatInterval", "/t", "REG_DWORD", "/d", "lots", *common)
    assert status == 2 and "must be a number" in err


def test_vdir_show_names_origins(capsys, paths):
    common, _ = paths
    status, out, _ = run(capsys, "vdir", "show", "/exchange", *common)
    assert status == 0
    line = next(l for l in out.splitlines() if l.strip().startswith("AuthFlags"))
    assert "6 (AuthBasic | AuthNTLM)" in line and "registry.ini:" in line
    line = next(l for l in out.splitlines() if l.strip().startswith("UploadReadAheadSize"))
    assert "inherited from [/LM/W3SVC]" in line
    status, out, _ = run(capsys, "vdir", "list", *common)
    assert "/Microsoft-Server-ActiveSync" in out and "massync.dll" in out


def test_user_add_list_passwd_and_logon(capsys, paths):
    common, _ = paths
    status, out, _ = run(capsys, "user", "add", "CONTOSO\\carol", "--password", "Pa55word!", "--smtp", "carol@contoso.com",
                         *common)
    assert status == 0 and "SMTP:carol@contoso.com" in out
    status, out, _ = run(capsys, "user", "list", *common)
    assert "CONTOSO\\alice" in out and "CONTOSO\\bob" in out and "CONTOSO\\carol" in out
    run(capsys, "user", "passwd", "carol", "--password", "N3w-password", *common)
    from host.directory import Directory
    from pathlib import Path

    directory = Directory.open(Path(common[3]))
    assert directory.verify_password("CONTOSO\\carol", "N3w-password") is not None
    status, _, err = run(capsys, "user", "add", "CONTOSO\\dave", "--password", "x", "--smtp", "carol@contoso.com", *common)
    assert status == 1 and "carol@contoso.com" in err


def test_cert_issue_list_and_export(capsys, paths, tmp_path):
    common, _ = paths
    status, out, _ = run(capsys, "cert", "issue-server", "mail.contoso.com", "--expired", *common)
    thumbprint = out.split()[0]
    assert status == 0 and len(thumbprint) == 40
    status, out, _ = run(capsys, "cert", "list", *common)
    assert thumbprint in out and "root" in out
    status, out, _ = run(capsys, "cert", "export-root", str(tmp_path / "root.cer"), *common)
    assert (tmp_path / "root.cer").read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")


def test_plugins_pipeline_and_request(capsys, paths):
    common, _ = paths
    status, out, _ = run(capsys, "plugins", *common)
    assert "sslflags" in out and "register_pipeline_stages" in out
    status, out, _ = run(capsys, "pipeline", *common)
    names = [line.split()[1] for line in out.splitlines()]
    assert names == ["w3clog", "errorpages", "sites", "filtering", "vdirs", "iprestrictions", "sslflags",
                     "authentication", "redirect", "scriptmaps"]
    status, out, _ = run(capsys, "request", "/exchange/", *common)
    assert out.startswith("401 Unauthorized  (sc-status 401, sc-substatus 2, sc-win32-status 5)")


def test_eventlog_shows_newest_first(capsys, paths):
    common, _ = paths
    from pathlib import Path

    from host.eventlog import EventLog

    log = EventLog(Path(common[3]) / "eventlog.db")
    log.write("Server ActiveSync", 3005, "Error", "first")
    log.write("Server ActiveSync", 3033, "Warning", "second")
    status, out, _ = run(capsys, "eventlog", "--source", "Server ActiveSync", *common)
    lines = out.splitlines()
    assert "3033" in lines[0] and "second" in lines[0] and "3005" in lines[1]


def test_serve_with_invalid_registry_exits_2_without_traceback(tmp_path):
    registry = tmp_path / "registry.ini"
    registry.write_text(registry_text().replace('"AuthFlags"=dword:00000006', '"AuthFlags"="yes"', 1))
    result = subprocess.run([sys.executable, "-m", "host", "serve", "--registry", str(registry), "--data",
                             str(tmp_path / "data")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "[/LM/W3SVC/1/ROOT/Exchange] AuthFlags: expected dword, got \"yes\"" in result.stderr
    assert "Traceback" not in result.stderr
