"""What every mailbox resource WsgiDAV serves shares: the opened mailbox, Exchange's properties, store errors.

WsgiDAV asks a resource for its properties, content and children; here the
answers come from the store through the request's opened mailbox (put in the
environ by davex.py). Store refusals become the statuses Exchange answered
with; a write the mailbox's quota refuses is ``507 Insufficient Storage``
(the store decides, never the configuration).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

from wsgidav import util as dav_util
from wsgidav.dav_error import (
    HTTP_BAD_REQUEST, HTTP_CONFLICT, HTTP_FORBIDDEN, HTTP_INSUFFICIENT_STORAGE, HTTP_NOT_FOUND, DAVError,
)

from plugins.owa.mailbox import (
    FolderExists, InvalidFolderMove, NoSuchFolder, NoSuchItem, NoSuchMailbox, QuotaExceededError,
    SpecialFolderError,
)
from plugins.owa.namespace import MailboxNamespace, OpenedMailbox
from plugins.owa.webdav.schemas import DAV, typed_element

OPENED = "davex.mailbox"  # environ: the OpenedMailbox of this request
LOCATION = "davex.location"  # environ: href of what a PUT/MOVE/COPY created, for the Location header

_LOCK_PROPERTIES = [f"{{{DAV}}}lockdiscovery", f"{{{DAV}}}supportedlock"]
_WSGIDAV_LIVE = [f"{{{DAV}}}resourcetype", f"{{{DAV}}}getetag"]


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


class Upload:
    """What a PUT body is written into; WsgiDAV closes it before ``end_write`` reads it."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.parts.append(data)

    def close(self) -> None:
        """Nothing to release: the parts stay readable for end_write."""

    def getvalue(self) -> bytes:
        return b"".join(self.parts)


def segments(path: str) -> list[str]:
    return [s for s in path.split("/") if s]


class StoreResource:
    """What every mailbox resource shares: the opened mailbox and Exchange's properties."""

    environ: dict
    path: str

    @property
    def opened(self) -> OpenedMailbox:
        return self.environ[OPENED]

    @property
    def ns(self) -> MailboxNamespace:
        return self.opened.namespace

    def get_href(self) -> str:
        """Hrefs use the vdir name as requested, not a mount path fixed at start-up."""
        return self.href

    def get_ref_url(self) -> str:
        """Locks are keyed by the canonical URL below the vdir, however the request spelled it
        (``17.EML`` and ``Subject-17.EML`` are one item)."""
        return self.href[len(quote(self.opened.vdir, safe="/")):]

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
        raise DAVError(HTTP_FORBIDDEN, "Only item properties can be set; rename a folder with MOVE.")

    def prevent_locking(self) -> bool:
        return False

    def check_unlocked(self) -> None:
        """Refuse (423) to change a locked resource without its token (RFC 4918 7.4).

        Before a native DELETE WsgiDAV checks only the parent's locks; a
        PROPPATCH that creates an item (outside WsgiDAV) checks the folder it
        adds to, so the ``If`` header may not have been read yet.
        """
        manager = self.provider.lock_manager
        if manager is not None:
            if "wsgidav.conditions.if" not in self.environ:
                dav_util.parse_if_header_dict(self.environ)
            manager.check_write_permission(url=self.get_ref_url(), depth="0",
                                           token_list=self.environ["wsgidav.ifLockTokenList"],
                                           principal=self.opened.owner.logon_name)

    def forbid(self, reason: str):
        raise DAVError(HTTP_FORBIDDEN, reason)
