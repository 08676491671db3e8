"""Shared fixtures: in-process hosts over a copy of the shipped registry.ini."""
from __future__ import annotations

import base64
from pathlib import Path

import pytest

from host.regfile import RegType
from host.testing import make_test_host
from host.w3clog import parse_w3c

DWORD, SZ, MULTI = RegType.REG_DWORD, RegType.REG_SZ, RegType.REG_MULTI_SZ
EXCHANGE = "/LM/W3SVC/1/ROOT/Exchange"
EAS = "/LM/W3SVC/1/ROOT/Microsoft-Server-ActiveSync"
ROOT = "/LM/W3SVC/1/ROOT"


def basic(user: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def w3c_lines(data_dir: Path, site_id: int = 1) -> list[dict[str, str]]:
    """Every line of the site's W3C logs, oldest first."""
    folder = data_dir / "LogFiles" / f"W3SVC{site_id}"
    rows: list[dict[str, str]] = []
    for path in sorted(folder.glob("*.log")):
        rows += parse_w3c(path.read_text(encoding="utf-8"))
    return rows


@pytest.fixture
def lab(tmp_path):
    """``lab(set_values=[...], pm=..., text=...) -> (service, app)``; services stop after the test."""
    made = []

    def make(**kwargs):
        service, app = make_test_host(tmp_path / f"host{len(made)}", **kwargs)
        made.append(service)
        return service, app

    yield make
    for service in made:
        service.stop()
