"""Ping: direct push, a request the server holds until something changes (MS-ASCMD 2.2.1.13)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from lxml import etree

from ..response import EasResponse
from .tree import children, leaf, node, number


def build_ping(heartbeat_interval: int | None, folders: Sequence[tuple[str, str]]) -> etree._Element:
    """``folders`` are (Id, Class) pairs; Folder children are Id then Class."""
    folder_nodes = [node("Ping:Folder", leaf("Ping:Id", fid), leaf("Ping:Class", cls)) for fid, cls in folders]
    return node("Ping:Ping", leaf("Ping:HeartbeatInterval", heartbeat_interval),
                node("Ping:Folders", *folder_nodes) if folder_nodes else None)


@dataclass
class PingReply:
    """Status 1: interval expired, nothing changed; 2: ``changed`` folders have changes;
    5: ``heartbeat_interval`` is the limit the server wants; 6: ``max_folders`` exceeded."""

    status: int | None
    changed: list[str] = field(default_factory=list)
    heartbeat_interval: int | None = None
    max_folders: int | None = None
    response: EasResponse | None = field(default=None, repr=False)


def read_ping(root: etree._Element | None) -> PingReply:
    folders = None if root is None else root.find("{Ping}Folders")
    return PingReply(status=number(root, "Ping:Status"),
                     changed=[f.text or "" for f in children(folders, "Ping:Folder")],
                     heartbeat_interval=number(root, "Ping:HeartbeatInterval"),
                     max_folders=number(root, "Ping:MaxFolders"))
