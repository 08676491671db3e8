"""An installed third-party package adds a handler and a CLI command through the entry-point group."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from host.testing import registry_text

SAMPLE = Path(__file__).parent / "sample_plugin"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(SAMPLE)], check=True, timeout=300,
                   env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")])}
    return env


def host(env, tmp_path, *args):
    registry = tmp_path / "registry.ini"
    if not registry.exists():
        text = registry_text() + '\n[/LM/W3SVC/1/ROOT/hello]\n"Path"="C:\\\\Inetpub\\\\wwwroot"\n' \
                                 '"AccessFlags"=dword:00000201\n"ScriptMaps"=multi:"*,C:\\\\lab\\\\hello.dll,1"\n'
        registry.write_text(text)
    return subprocess.run([sys.executable, "-m", "host", *args, "--registry", str(registry), "--data",
                           str(tmp_path / "data")], capture_output=True, text=True, env=env, timeout=120)


def test_installed_plugin_adds_a_cli_command(installed, tmp_path):
    result = host(installed, tmp_path, "hello")
    assert result.returncode == 0 and result.stdout.strip() == "hello from a third-party plugin"
    assert "easlab-hello 1.0" in host(installed, tmp_path, "plugins").stdout


def test_installed_plugin_handles_its_script_map(installed, tmp_path):
    result = host(installed, tmp_path, "request", "/hello/world")
    assert result.stdout.startswith("200 OK"), result.stdout + result.stderr
    result = host(installed, tmp_path, "request", "/hello/world")
    assert "handler hello.dll" in result.stdout


def test_without_the_package_the_map_is_404_2(tmp_path):
    result = host(dict(os.environ), tmp_path, "request", "/hello/world")
    assert "sc-status 404, sc-substatus 2" in result.stdout
