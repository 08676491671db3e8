"""Small helpers to build and read EAS element trees (namespaces are code page names)."""
from __future__ import annotations

import copy
from collections.abc import Iterable

from lxml import etree

from plugins.activesync.wbxml import NAMESPACES, element


def node(tag: str, *children: etree._Element | None) -> etree._Element:
    """A container element; None children are left out, so optional parts read inline."""
    return element(tag, None, *(c for c in children if c is not None))


def leaf(tag: str, value: str | int | bytes | None) -> etree._Element | None:
    """A text element, or None when there is no value to send."""
    if value is None:
        return None
    return element(tag, value if isinstance(value, bytes) else str(value))


def flag(tag: str, present: bool | None) -> etree._Element | None:
    """An empty element whose presence is the value (e.g. ``<DeepTraversal/>``)."""
    return element(tag) if present else None


def copies(elements: Iterable[etree._Element]) -> list[etree._Element]:
    """Deep copies, so a caller's elements are never moved into a request tree."""
    return [copy.deepcopy(e) for e in elements]


def clark(ns_tag: str) -> str:
    """``"Email:Subject"`` (page name or prefix) -> ``"{Email}Subject"``."""
    if ns_tag.startswith("{"):
        return ns_tag
    ns, _, local = ns_tag.rpartition(":")
    return f"{{{NAMESPACES.get(ns, ns)}}}{local}"


def text(parent: etree._Element | None, ns_tag: str) -> str | None:
    """The text of the first matching child, or None."""
    if parent is None:
        return None
    found = parent.find(clark(ns_tag))
    return None if found is None else (found.text or "")


def number(parent: etree._Element | None, ns_tag: str) -> int | None:
    value = text(parent, ns_tag)
    try:
        return int(value) if value else None
    except ValueError:
        return None


def children(parent: etree._Element | None, ns_tag: str) -> list[etree._Element]:
    return [] if parent is None else parent.findall(clark(ns_tag))
