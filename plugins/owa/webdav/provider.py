"""The standard WebDAV methods over the mailbox store, served by WsgiDAV.

WsgiDAV does what RFC 4918 asks of PROPFIND, PROPPATCH, GET/HEAD, PUT,
DELETE, COPY, MOVE, MKCOL, LOCK and UNLOCK (Depth, Overwrite, If headers,
multistatus, dry-run PROPPATCH, the lock manager); this module only tells it
what the resources are. Its own authentication is not in the middleware
stack: the host pipeline has authenticated the request, and davex.py has
opened the mailbox as that user before WsgiDAV sees the request.

Resources: the mailbox root, visible folders, items (message/rfc822), the
non-IPM subtree with its hidden folders and state blobs, and the submission
URI (a collection that only MOVE targets). Store errors become the statuses
Exchange answered with; a write the mailbox's quota refuses is ``507
Insufficient Storage`` (the store decides, never the configuration).
"""
from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from wsgidav import util as dav_util
from wsgidav.dav_error import (
    HTTP_BAD_REQUEST, HTTP_CONFLICT, HTTP_FORBIDDEN, HTTP_INSUFFICIENT_STORAGE, HTTP_METHOD_NOT_ALLOWED,
    HTTP_NOT_FOUND, DAVError,
)
from wsgidav.dav_provider import DAVCollection, DAVNonCollection, DAVProvider
from wsgidav.error_printer import ErrorPrinter
from wsgidav.request_resolver import RequestResolver
from wsgidav.wsgidav_app import WsgiDAVApp

from plugins.owa.mailbox import (
    FolderExists, FolderType, InvalidFolderMove, Item, NewItem, NoSuchFolder, NoSuchItem, NoSuchMailbox,
    QuotaExceededError, SpecialFolderError,
)
from plugins.owa.namespace import NON_IPM_SUBTREE, SUBMISSION_URI, Kind, Location, OpenedMailbox, item_name
from plugins.owa.webdav import mailsubmission
from plugins.owa.webdav.properties import (
    FOLDER_PROPERTIES, ITEM_PROPERTIES, MAILBOX_PROPERTIES, PropertyRefused, item_property,
    item_property_names, item_update,
)
from plugins.owa.webdav.schemas import DAV, typed_element

OPENED = "davex.mailbox"  # environ: the OpenedMailbox of this request
LOCATION = "davex.location"  # environ: href of what a PUT/MOVE/COPY created, for the Location header

_LOCK_PROPERTIES = [f"{{{DAV}}}lockdiscovery", f"{{{DAV}}}supportedlock"]
_WSGIDAV_LIVE = [f"{{{DAV}}}resourcetype", f"{{{DAV}}}getetag"]
# Placeholder blob that makes the store create a hidden folder (see HiddenFolder.create_collection).
_MKCOL_PLACEHOLDER = "~mkcol"

# A new folder under a calendar is a calendar, and so on, as Outlook and OWA created them.
_USER_FOLDER_TYPES = {
    "IPF.Appointment": FolderType.USER_CALENDAR,
    "IPF.Contact": FolderType.USER_CONTACTS,
    "IPF.Task": FolderType.USER_TASKS,
    "IPF.StickyNote": FolderType.USER_NOTES,
    "IPF.Journal": FolderType.USER_JOURNAL,
}


@contextmanager
def store_errors() -> Iterator[None]:
    """Store refusals as the WebDAV statuses Exchange sent."""
    try:
        yield
    except QuotaExceededError as exc:
        raise DAVError(HTTP_INSUFFICIENT_STORAGE, str(exc)) from None
    except (NoSuchFolder, NoSuchItem, NoSuchMailbox) as exc:
        raise DAVError(HTTP_NOT_FOUND, str(exc)) from None
    except (SpecialFolderError, InvalidFolderMove) as exc:
        raise DAVError(HTTP_FORBIDDEN, str(exc)) from None
    except FolderExists as exc:
        raise DAVError(HTTP_CONFLICT, str(exc)) from None
    except ValueError as exc:
        raise DAVError(HTTP_BAD_REQUEST, str(exc)) from None


def _segments(path: str) -> list[str]:
    return [s for s in path.split("/") if s]


class _StoreResource:
    """What every mailbox resource shares: the opened mailbox and Exchange's properties."""

    environ: dict
    path: str

    @property
    def opened(self) -> OpenedMailbox:
        return self.environ[OPENED]

    @property
    def ns(self):
        return self.opened.namespace

    def get_href(self) -> str:
        """Hrefs use the vdir name as requested, not a mount path fixed at start-up."""
        return self.href

    @property
    def href(self) -> str:
        raise NotImplementedError

    def own_property_names(self) -> list[str]:
        raise NotImplementedError

    def own_property(self, name: str) -> Any:
        raise NotImplementedError

    def get_property_names(self, *, is_allprop: bool) -> list[str]:
        names = [*self.own_property_names(), *_WSGIDAV_LIVE]
        if self.provider.lock_manager and not self.prevent_locking():
            names += _LOCK_PROPERTIES
        return names

    def raw_property(self, name: str) -> Any:
        """The untyped value SEARCH compares and sorts on; None when the resource has none."""
        return self.own_property(name) if name in self.own_property_names() else None

    def get_property_value(self, name: str):
        if name in self.own_property_names():
            value = self.own_property(name)
            if value is None:
                raise DAVError(HTTP_NOT_FOUND)
            return typed_element(name, value)
        return super().get_property_value(name)  # type: ignore[misc]  # WsgiDAV: resourcetype, etag, locks

    def set_property_value(self, name: str, value, *, dry_run: bool = False):
        raise DAVError(HTTP_FORBIDDEN, "Folder properties are changed by MOVE (rename) only.")

    def prevent_locking(self) -> bool:
        return False

    def forbid(self, reason: str):
        raise DAVError(HTTP_FORBIDDEN, reason)


# --- collections --------------------------------------------------------------------


class MailboxRoot(_StoreResource, DAVCollection):
    """``/exchange/alice/``: the top of the information store."""

    @property
    def href(self) -> str:
        return self.ns.href(collection=True)

    def own_property_names(self) -> list[str]:
        return list(MAILBOX_PROPERTIES)

    def own_property(self, name: str) -> Any:
        return MAILBOX_PROPERTIES[name](self.ns, None)

    def get_member_names(self) -> list[str]:
        return [f.display_name for f in self.ns.children(None, hidden=False)]

    def get_member(self, name: str):
        return self.provider.get_resource_inst(dav_util.join_uri(self.path, name), self.environ)

    def get_member_list(self) -> list:
        return [FolderResource(dav_util.join_uri(self.path, f.display_name), self.environ, f)
                for f in self.ns.children(None, hidden=False)]

    def create_collection(self, name: str) -> None:
        with store_errors():
            self.ns.store.create_folder(self.ns.mailbox_id, None, name)
        self.ns.forget()

    def create_empty_resource(self, name: str):
        self.forbid("Items live in folders, not at the top of the information store.")

    def support_recursive_delete(self) -> bool:
        return False

    def handle_delete(self):
        self.forbid("A mailbox cannot be deleted over WebDAV.")

    def handle_move(self, dest_path: str):
        self.forbid("A mailbox cannot be moved.")

    def handle_copy(self, dest_path: str, *, depth_infinity: bool):
        self.forbid("A mailbox cannot be copied.")


class FolderResource(_StoreResource, DAVCollection):
    """A visible folder: subfolders and items. Items pending a virus scan are not listed."""

    def __init__(self, path: str, environ: dict, folder) -> None:
        super().__init__(path, environ)
        self.folder = folder

    @property
    def href(self) -> str:
        return self.ns.folder_href(self.folder)

    def own_property_names(self) -> list[str]:
        return list(FOLDER_PROPERTIES)

    def own_property(self, name: str) -> Any:
        return FOLDER_PROPERTIES[name](self.ns, self.folder)

    def raw_property(self, name: str) -> Any:
        getter = FOLDER_PROPERTIES.get(name)
        return getter(self.ns, self.folder) if getter else None

    def get_etag(self) -> str:
        return f"f{self.folder.id}-{self.folder.change_number}"

    def support_etag(self) -> bool:
        return True

    def get_member_names(self) -> list[str]:
        return [r.name for r in self.get_member_list()]

    def get_member(self, name: str):
        return self.provider.get_resource_inst(dav_util.join_uri(self.path, name), self.environ)

    def get_member_list(self) -> list:
        folders = [FolderResource(dav_util.join_uri(self.path, f.display_name), self.environ, f)
                   for f in self.ns.children(self.folder, hidden=self.folder.hidden)]
        items = [ItemResource.inside(self, item) for item in self.ns.items(self.folder, scanned_only=True)]
        return [*folders, *items]

    def create_collection(self, name: str) -> None:
        folder_type = _USER_FOLDER_TYPES.get(self.folder.container_class, FolderType.USER_MAIL)
        with store_errors():
            self.ns.store.create_folder(self.ns.mailbox_id, self.folder.id, name, folder_type)
        self.ns.forget()

    def create_empty_resource(self, name: str):
        return NewMessage(dav_util.join_uri(self.path, name), self.environ, self.folder)

    def support_recursive_delete(self) -> bool:
        return True

    def handle_delete(self):
        """DELETE removes a folder for good, as Exchange's WebDAV DELETE did (no Deleted Items)."""
        with store_errors():
            self.ns.store.delete_folder(self.ns.mailbox_id, self.folder.id, hard=True)
        self.ns.forget()
        return True

    def handle_move(self, dest_path: str):
        """Rename and/or re-parent: the folder keeps its id (EAS FolderUpdate relies on it)."""
        dest = _segments(dest_path)
        parent = self.opened.locate(dest[:-1])
        if parent is None or parent.kind not in (Kind.MAILBOX, Kind.FOLDER):
            raise DAVError(HTTP_CONFLICT, "The destination's parent is not a folder of this mailbox.")
        new_parent = parent.folder.id if parent.folder else None
        store, mailbox_id = self.ns.store, self.ns.mailbox_id
        with store_errors():
            if dest[-1] != self.folder.display_name:
                store.rename_folder(mailbox_id, self.folder.id, dest[-1])
            if new_parent != self.folder.parent_id:
                store.move_folder(mailbox_id, self.folder.id, new_parent)
        self.ns.forget()
        self.environ[LOCATION] = self.ns.folder_href(self.ns.folders[self.folder.id])
        return True

    def handle_copy(self, dest_path: str, *, depth_infinity: bool):
        self.forbid("The store copies items, not folders: COPY each item (BCOPY) instead.")


class HiddenRoot(_StoreResource, DAVCollection):
    """``NON_IPM_SUBTREE``: the folders under the mailbox root that users never see."""

    @property
    def href(self) -> str:
        return self.ns.href(NON_IPM_SUBTREE, collection=True)

    _PROPERTIES = {
        f"{{{DAV}}}displayname": NON_IPM_SUBTREE,
        f"{{{DAV}}}iscollection": True,
        f"{{{DAV}}}isfolder": True,
        f"{{{DAV}}}ishidden": True,
    }

    def own_property_names(self) -> list[str]:
        return list(self._PROPERTIES)

    def own_property(self, name: str) -> Any:
        return self._PROPERTIES[name]

    def get_member_names(self) -> list[str]:
        return [f.display_name for f in self.ns.children(None, hidden=True)]

    def get_member(self, name: str):
        return self.provider.get_resource_inst(dav_util.join_uri(self.path, name), self.environ)

    def get_member_list(self) -> list:
        return [HiddenFolder(dav_util.join_uri(self.path, f.display_name), self.environ, f)
                for f in self.ns.children(None, hidden=True)]

    def create_collection(self, name: str) -> None:
        _create_hidden_folder(self.opened, name)

    def create_empty_resource(self, name: str):
        self.forbid("State blobs live in hidden folders below NON_IPM_SUBTREE.")

    def support_recursive_delete(self) -> bool:
        return False

    def handle_delete(self):
        self.forbid("The non-IPM subtree cannot be deleted.")

    def handle_move(self, dest_path: str):
        self.forbid("The non-IPM subtree cannot be moved.")

    def handle_copy(self, dest_path: str, *, depth_infinity: bool):
        self.forbid("The non-IPM subtree cannot be copied.")


class HiddenFolder(FolderResource):
    """A non-IPM folder (``Microsoft-Server-ActiveSync/PocketPC/DEV1``): subfolders and state blobs."""

    def get_member_list(self) -> list:
        folders = [HiddenFolder(dav_util.join_uri(self.path, f.display_name), self.environ, f)
                   for f in self.ns.children(self.folder, hidden=True)]
        blobs = [StateBlob(dav_util.join_uri(self.path, item.subject), self.environ, item)
                 for item in self.ns.items(self.folder)]
        return [*folders, *blobs]

    def create_collection(self, name: str) -> None:
        _create_hidden_folder(self.opened, f"{self.ns.state_path(self.folder)}/{name}")

    def create_empty_resource(self, name: str):
        return StateBlob(dav_util.join_uri(self.path, name), self.environ, None, folder=self.folder)

    def handle_delete(self):
        self.forbid("The store keeps hidden folders; DELETE the state blobs inside instead.")

    def handle_move(self, dest_path: str):
        self.forbid("Hidden folders cannot be moved.")


def _create_hidden_folder(opened: OpenedMailbox, folder_path: str) -> None:
    """MKCOL in the non-IPM subtree.

    The store interface creates hidden folders only as the containers that
    ``put_state`` writes into, so MKCOL stores and removes a placeholder blob:
    the folders stay. TODO(issue 4): a store call that creates a hidden folder.
    """
    store, mailbox_id = opened.namespace.store, opened.namespace.mailbox_id
    with store_errors():
        store.put_state(mailbox_id, folder_path, _MKCOL_PLACEHOLDER, b"")
        store.delete_state(mailbox_id, folder_path, _MKCOL_PLACEHOLDER)
    opened.namespace.forget()


class Submission(_StoreResource, DAVCollection):
    """``##DavMailSubmissionURI##``: PUT a message here (davex.py) or MOVE a draft here to send it."""

    @property
    def href(self) -> str:
        return self.ns.href(SUBMISSION_URI, collection=True)

    _PROPERTIES = {
        f"{{{DAV}}}iscollection": True,
        f"{{{DAV}}}isfolder": True,
        f"{{{DAV}}}ishidden": True,
    }

    def own_property_names(self) -> list[str]:
        return list(self._PROPERTIES)

    def own_property(self, name: str) -> Any:
        return self._PROPERTIES[name]

    def get_member_names(self) -> list[str]:
        return []

    def get_member(self, name: str):
        return None

    def create_empty_resource(self, name: str):
        self.forbid("Submit mail with PUT to the submission URI itself, or MOVE a draft there.")

    def create_collection(self, name: str):
        self.forbid("The submission URI holds no folders.")

    def support_recursive_delete(self) -> bool:
        return False

    def handle_delete(self):
        self.forbid("The submission URI cannot be deleted.")

    def handle_move(self, dest_path: str):
        self.forbid("The submission URI cannot be moved.")

    def handle_copy(self, dest_path: str, *, depth_infinity: bool):
        self.forbid("The submission URI cannot be copied.")


# --- items and blobs ----------------------------------------------------------------------


class ItemResource(_StoreResource, DAVNonCollection):
    """A message (or contact, appointment...) in a visible folder; GET returns its MIME."""

    def __init__(self, path: str, environ: dict, item: Item) -> None:
        super().__init__(path, environ)
        self.item = item
        self._mime: bytes | None = None

    @classmethod
    def inside(cls, folder: FolderResource, item: Item) -> ItemResource:
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
        text = None if value is None else (value.text or "")
        try:
            changes = item_update(self.item, name, text)
        except PropertyRefused as refused:
            raise DAVError(refused.status, str(refused)) from None
        if not dry_run:
            with store_errors():
                self.item = self.ns.store.update_item(self.ns.mailbox_id, self.item.id, **changes)

    def handle_delete(self):
        """DELETE removes the item for good; clients soft-delete with a MOVE to Deleted Items."""
        with store_errors():
            self.ns.store.delete_items(self.ns.mailbox_id, [self.item.id], hard=True)
        return True

    def handle_move(self, dest_path: str):
        target = self._destination(dest_path)
        store, mailbox_id = self.ns.store, self.ns.mailbox_id
        if target is None:
            with store_errors():
                mailsubmission.submit(self.environ["host.service"], mailbox_id, self.mime)
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

        Items are named by the store, so only the destination folder counts;
        an item already at the destination URL is replaced (Overwrite: T).
        """
        dest = _segments(dest_path)
        whole = self.opened.locate(dest)
        if whole is not None and whole.kind is Kind.SUBMISSION:
            return None
        parent = self.opened.locate(dest[:-1])
        if parent is not None and parent.kind is Kind.SUBMISSION:
            return None
        if parent is None or parent.kind is not Kind.FOLDER:
            raise DAVError(HTTP_CONFLICT, "The destination is not in a folder of this mailbox.")
        if whole is not None and whole.kind is Kind.ITEM and whole.item.id != self.item.id:
            with store_errors():
                self.ns.store.delete_items(self.ns.mailbox_id, [whole.item.id], hard=True)
        return parent.folder


class NewMessage(_StoreResource, DAVNonCollection):
    """The target of a PUT that creates a message: the store names it, the Location header says how."""

    def __init__(self, path: str, environ: dict, folder) -> None:
        super().__init__(path, environ)
        self.folder = folder
        self.buffer = io.BytesIO()
        self.item: Item | None = None

    @property
    def href(self) -> str:
        return self.ns.item_href(self.item) if self.item else self.ns.folder_href(self.folder)

    def own_property_names(self) -> list[str]:
        return []

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


class StateBlob(_StoreResource, DAVNonCollection):
    """A blob in a hidden folder, named by its state name; PUT replaces it (put_state)."""

    def __init__(self, path: str, environ: dict, item: Item | None, *, folder=None) -> None:
        super().__init__(path, environ)
        self.item = item
        self.folder = folder if folder is not None else self.ns.folders[item.folder_id]
        self.buffer = io.BytesIO()
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
        with store_errors():
            self.ns.store.delete_state(self.ns.mailbox_id, self.ns.state_path(self.folder), self.state_name)
        return True

    def handle_move(self, dest_path: str):
        self.forbid("State blobs are replaced with PUT, not moved.")

    def handle_copy(self, dest_path: str, *, depth_infinity: bool):
        self.forbid("State blobs are replaced with PUT, not copied.")


# --- the provider and the WsgiDAV application -----------------------------------------------


def resource_for(path: str, environ: dict, location: Location):
    """The WsgiDAV resource for what a URL names."""
    if location.kind is Kind.MAILBOX:
        return MailboxRoot(path, environ)
    if location.kind is Kind.FOLDER:
        return FolderResource(path, environ, location.folder)
    if location.kind is Kind.ITEM:
        return ItemResource(path, environ, location.item)
    if location.kind is Kind.HIDDEN_ROOT:
        return HiddenRoot(path, environ)
    if location.kind is Kind.HIDDEN_FOLDER:
        return HiddenFolder(path, environ, location.folder)
    if location.kind is Kind.STATE:
        return StateBlob(path, environ, location.item)
    return Submission(path, environ)


def folder_resource(environ: dict, folder) -> FolderResource:
    """The resource of a folder record (SEARCH rows, batch targets)."""
    opened: OpenedMailbox = environ[OPENED]
    path = "/" + "/".join([opened.segment, *opened.namespace.folder_segments(folder)])
    return (HiddenFolder if folder.hidden else FolderResource)(path, environ, folder)


def item_resource(environ: dict, item: Item):
    """The resource of an item record: a message, or a state blob in a hidden folder."""
    ns = environ[OPENED].namespace
    folder = folder_resource(environ, ns.folders[item.folder_id])
    if folder.folder.hidden:
        return StateBlob(dav_util.join_uri(folder.path, item.subject), environ, item)
    return ItemResource.inside(folder, item)


class MailboxStoreProvider(DAVProvider):
    """Maps the paths WsgiDAV asks about to resources of the request's opened mailbox."""

    def get_resource_inst(self, path: str, environ: dict):
        location = environ[OPENED].locate(_segments(path))
        return resource_for(path, environ, location) if location is not None else None


def dav_application() -> WsgiDAVApp:
    """WsgiDAV with the store provider, its lock manager, and none of its own authentication."""
    return WsgiDAVApp({
        "provider_mapping": {"/": MailboxStoreProvider()},
        "middleware_stack": [ErrorPrinter, RequestResolver],
        "http_authenticator": {"accept_basic": False, "accept_digest": False},
        "lock_storage": True,
        "property_manager": None,
        "add_header_MS_Author_Via": True,
        "verbose": 1,
        "logging": {"enable": False},
    })
