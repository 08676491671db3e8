"""FolderSync, FolderCreate, FolderDelete: the folder hierarchy (MS-ASCMD 2.2.1.5, 2.2.1.3, 2.2.1.4)."""
from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from ..response import EasResponse
from ..state import Folder
from .tree import children, leaf, node, number, text


def build_folder_sync(sync_key: str) -> etree._Element:
    """SyncKey 0 asks for the whole hierarchy; any other key for changes since it."""
    return node("FolderHierarchy:FolderSync", leaf("FolderHierarchy:SyncKey", sync_key))


def build_folder_create(sync_key: str, parent_id: str, display_name: str, folder_type: int) -> etree._Element:
    """MS-ASCMD 2.2.1.3: SyncKey, ParentId, DisplayName, Type."""
    return node("FolderHierarchy:FolderCreate",
                leaf("FolderHierarchy:SyncKey", sync_key),
                leaf("FolderHierarchy:ParentId", parent_id),
                leaf("FolderHierarchy:DisplayName", display_name),
                leaf("FolderHierarchy:Type", folder_type))


def build_folder_delete(sync_key: str, server_id: str) -> etree._Element:
    """MS-ASCMD 2.2.1.4: SyncKey, ServerId."""
    return node("FolderHierarchy:FolderDelete",
                leaf("FolderHierarchy:SyncKey", sync_key),
                leaf("FolderHierarchy:ServerId", server_id))


@dataclass
class FolderChanges:
    """A FolderSync response: new key and the changes to apply, in the order given."""

    status: int | None
    sync_key: str | None
    added: list[Folder] = field(default_factory=list)
    updated: list[Folder] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    response: EasResponse | None = field(default=None, repr=False)


def _folder(el: etree._Element) -> Folder:
    return Folder(server_id=text(el, "FolderHierarchy:ServerId") or "",
                  parent_id=text(el, "FolderHierarchy:ParentId") or "0",
                  display_name=text(el, "FolderHierarchy:DisplayName") or "",
                  type=number(el, "FolderHierarchy:Type") or 0)


def read_folder_sync(root: etree._Element | None) -> FolderChanges:
    changes = None if root is None else root.find("{FolderHierarchy}Changes")
    return FolderChanges(
        status=number(root, "FolderHierarchy:Status"),
        sync_key=text(root, "FolderHierarchy:SyncKey"),
        added=[_folder(el) for el in children(changes, "FolderHierarchy:Add")],
        updated=[_folder(el) for el in children(changes, "FolderHierarchy:Update")],
        deleted=[text(el, "FolderHierarchy:ServerId") or "" for el in children(changes, "FolderHierarchy:Delete")],
    )


@dataclass
class FolderReply:
    """A FolderCreate or FolderDelete response."""

    status: int | None
    sync_key: str | None
    server_id: str | None
    response: EasResponse | None = field(default=None, repr=False)


def read_folder_reply(root: etree._Element | None) -> FolderReply:
    return FolderReply(status=number(root, "FolderHierarchy:Status"),
                       sync_key=text(root, "FolderHierarchy:SyncKey"),
                       server_id=text(root, "FolderHierarchy:ServerId"))
