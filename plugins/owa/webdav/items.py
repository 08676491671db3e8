"""Items as WsgiDAV resources: messages in visible folders and state blobs in hidden ones.

A message's GET is its MIME (``message/rfc822``); PUT into a folder stores a
new one (the store names it: the answer's ``Location`` says where); MOVE and
COPY take the destination folder, and a MOVE to the submission URI sends it.
A state blob is what MASSYNC keeps in ``NON_IPM_SUBTREE``: PUT replaces it
through ``put_state``, which counts toward quota.
"""
from __future__ import annotations

import io
from typing import Any

from wsgidav import util as dav_util
from wsgidav.dav_error import HTTP_CONFLICT, HTTP_METHOD_NOT_ALLOWED, DAVError
from wsgidav.dav_provider import DAVNonCollection

from plugins.owa.mailbox import Item, NewItem
from plugins.owa.namespace import Kind, item_name
from plugins.owa.webdav import mailsubmission
from plugins.owa.webdav.properties import (
    ITEM_PROPERTIES, PropertyRefused, item_property, item_property_names, item_update,
)
from plugins.owa.webdav.resource import LOCATION, StoreResource, Upload, segments, store_errors


class ItemResource(StoreResource, DAVNonCollection):
    """A message (or contact, appointment...) in a visible folder; GET returns its MIME."""

    def __init__(self, path: str, environ: dict, item: Item) -> None:
        super().__init__(path, environ)
        self.item = item
        self._mime: bytes | None = None

    @classmethod
    def inside(cls, folder, item: Item) -> ItemResource:
        return cls(dav_util.join_uri(folder.path, item_name(item)), folder.environ, item)

    @property
    def href(self) -> str:
        return self.ns.item_href(self.item)

    def own_property_names(self) -> list[str]:
        return item_property_names(self.item)

    def own_property(self, name: str) -> Any:
        return item_property(self.ns, self.item, name)

    def raw_property(self, name: str) -> Any:
        return item_property(self.ns, self.item, name)

    @property
    def mime(self) -> bytes:
        if self._mime is None:
            with store_errors():
                self._mime = self.ns.store.get_mime(self.ns.mailbox_id, self.item.id)
        return self._mime

    def get_content(self):
        return io.BytesIO(self.mime)

    def get_content_length(self) -> int:
        return len(self.mime)

    def get_content_type(self) -> str:
        return "message/rfc822"

    def get_etag(self) -> str:
        return f"i{self.item.id}-{self.item.change_number}"

    def support_etag(self) -> bool:
        return True

    def get_last_modified(self) -> float:
        return self.item.date_received.timestamp()

    def get_creation_date(self) -> float:
        return self.item.date_received.timestamp()

    def support_ranges(self) -> bool:
        return True

    def begin_write(self, *, content_type=None):
        raise DAVError(HTTP_METHOD_NOT_ALLOWED,
                       "A stored message is not rewritten: DELETE it and PUT the new one.")

    def set_property_value(self, name: str, value, *, dry_run: bool = False):
        try:
            changes = item_update(self.item.message_class, self.item.properties, name, value)
        except PropertyRefused as refused:
            raise DAVError(refused.status, str(refused)) from None
        if not dry_run:
            with store_errors():
                self.item = self.ns.store.update_item(self.ns.mailbox_id, self.item.id, **changes)

    def handle_delete(self):
        """DELETE removes the item for good; clients soft-delete with a MOVE to Deleted Items."""
        self.check_unlocked()
        with store_errors():
            self.ns.store.delete_items(self.ns.mailbox_id, [self.item.id], hard=True)
        return True

    def handle_move(self, dest_path: str):
        target = self._destination(dest_path)
        store, mailbox_id = self.ns.store, self.ns.mailbox_id
        if target is None:
            with store_errors():
                mailsubmission.submit(self.environ, mailbox_id, self.mime)
                store.delete_items(mailbox_id, [self.item.id], hard=True)
            return True
        with store_errors():
            moved = store.move_item(mailbox_id, self.item.id, target.id)
        self.environ[LOCATION] = self.ns.item_href(moved)
        return True

    def handle_copy(self, dest_path: str, *, depth_infinity: bool):
        target = self._destination(dest_path)
        if target is None:
            self.forbid("COPY cannot submit mail; MOVE the draft to the submission URI.")
        with store_errors():
            copy = self.ns.store.copy_item(self.ns.mailbox_id, self.item.id, target.id)
        self.environ[LOCATION] = self.ns.item_href(copy)
        return True

    def _destination(self, dest_path: str):
        """The visible folder a MOVE/COPY goes to, or None for the submission URI.

        Items are named by the store, so only the destination folder counts
        (a Destination naming the folder itself works too); an item already
        at the destination URL is replaced (Overwrite: T).
        """
        dest = segments(dest_path)
        whole = self.opened.locate(dest)
        if whole is not None and whole.kind is Kind.SUBMISSION:
            return None
        if whole is not None and whole.kind is Kind.FOLDER:  # a folder URL: into it, as BMOVE does
            return whole.folder
        parent = self.opened.locate(dest[:-1])
        if parent is not None and parent.kind is Kind.SUBMISSION:
            return None
        if parent is None or parent.kind is not Kind.FOLDER:
            raise DAVError(HTTP_CONFLICT, "The destination is not in a folder of this mailbox.")
        if whole is not None and whole.kind is Kind.ITEM and whole.item.id != self.item.id:
            with store_errors():
                self.ns.store.delete_items(self.ns.mailbox_id, [whole.item.id], hard=True)
        return parent.folder


class NewMessage(StoreResource, DAVNonCollection):
    """The target of a PUT that creates a message: the store names it, the Location header says how."""

    def __init__(self, path: str, environ: dict, folder) -> None:
        super().__init__(path, environ)
        self.folder = folder
        self.buffer = Upload()
        self.item: Item | None = None

    @property
    def href(self) -> str:
        return self.ns.item_href(self.item) if self.item else self.ns.folder_href(self.folder)

    def own_property_names(self) -> list[str]:
        return []

    def get_content(self):
        return io.BytesIO(self.buffer.getvalue())

    def get_content_length(self):
        return None

    def get_content_type(self):
        return None

    def get_etag(self):
        return f"i{self.item.id}-{self.item.change_number}" if self.item else None

    def support_etag(self) -> bool:
        return self.item is not None

    def begin_write(self, *, content_type=None):
        return self.buffer

    def end_write(self, *, with_errors: bool) -> None:
        if with_errors:
            return
        with store_errors():
            self.item = self.ns.store.add_item(self.ns.mailbox_id, self.folder.id,
                                               NewItem.from_mime(self.buffer.getvalue()))
        self.environ[LOCATION] = self.ns.item_href(self.item)


class StateBlob(StoreResource, DAVNonCollection):
    """A blob in a hidden folder, named by its state name; PUT replaces it (put_state)."""

    def __init__(self, path: str, environ: dict, item: Item | None, *, folder=None) -> None:
        super().__init__(path, environ)
        self.item = item
        self.folder = folder if folder is not None else self.ns.folders[item.folder_id]
        self.buffer = Upload()
        self._data: bytes | None = None

    @property
    def state_name(self) -> str:
        return self.item.subject if self.item else self.name

    @property
    def href(self) -> str:
        return self.ns.href(*self.ns.folder_segments(self.folder), self.state_name)

    def own_property_names(self) -> list[str]:
        return list(ITEM_PROPERTIES) if self.item else []

    def own_property(self, name: str) -> Any:
        return ITEM_PROPERTIES[name](self.ns, self.item)

    def _read(self) -> bytes:
        if self._data is None:
            with store_errors():
                self._data = self.ns.store.get_state(self.ns.mailbox_id, self.ns.state_path(self.folder),
                                                     self.state_name)
        return self._data

    def get_content(self):
        return io.BytesIO(self._read())

    def get_content_length(self) -> int:
        return len(self._read())

    def get_content_type(self) -> str:
        return "application/octet-stream"

    def get_etag(self):
        return f"i{self.item.id}-{self.item.change_number}" if self.item else None

    def support_etag(self) -> bool:
        return self.item is not None

    def begin_write(self, *, content_type=None):
        return self.buffer

    def end_write(self, *, with_errors: bool) -> None:
        """put_state counts toward quota: past ProhibitSendReceiveQuota this is a 507."""
        if with_errors:
            return
        with store_errors():
            self.ns.store.put_state(self.ns.mailbox_id, self.ns.state_path(self.folder), self.state_name,
                                    self.buffer.getvalue())

    def handle_delete(self):
        self.check_unlocked()
        with store_errors():
            self.ns.store.delete_state(self.ns.mailbox_id, self.ns.state_path(self.folder), self.state_name)
        return True

    def handle_move(self, dest_path: str):
        self.forbid("State blobs are replaced with PUT, not moved.")

    def handle_copy(self, dest_path: str, *, depth_infinity: bool):
        self.forbid("State blobs are replaced with PUT, not copied.")
