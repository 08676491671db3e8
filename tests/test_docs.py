"""The docs cannot drift: every hook and every registry.ini property has its entry."""
from __future__ import annotations

import inspect
import re
from pathlib import Path

from host import hookspecs
from host.commands.configuration import property_reference
from host.metabase import PropertyTable
from host.plugins import collect, make_plugin_manager

DOCS = Path(__file__).parent.parent / "docs"


def _hooks():
    return [(name, fn) for name, fn in vars(hookspecs).items()
            if callable(fn) and hasattr(fn, "easlab_spec")]


def test_every_hook_has_a_heading_with_its_signature():
    text = (DOCS / "plugin_hooks.md").read_text()
    headings = set(re.findall(r"^### (.+)$", text, re.M))
    hooks = _hooks()
    assert hooks
    for name, fn in hooks:
        signature = str(inspect.signature(fn)).replace("'", "")
        assert f"{name}{signature}" in headings, f"docs/plugin_hooks.md lacks '### {name}{signature}'"


def test_registry_reference_is_current():
    table = PropertyTable(collect(make_plugin_manager().hook.register_registry_properties()))
    text = (DOCS / "registry.md").read_text()
    generated = property_reference(table)
    assert generated.strip() in text, "docs/registry.md is stale: run python -m host config reference"
    for prop in table:
        assert f"### {prop.name}" in text
