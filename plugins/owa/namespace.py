"""The /exchange URL space: which mailbox, folder or item a URL names, and who may open it.

Exchange 2003's davex.dll did not serve files: a vdir's ``Path`` named the
ExIFS namespace of one SMTP domain's mailboxes,
``\\\\.\\BackOfficeStorage\\contoso.com\\MBX``. A mailbox is addressed by the
left-hand side of its owner's address *in that domain*, so a user without
such an address has no URL under the vdir at all (the root of KB886346:
MASSYNC builds the URL from an address the vdir does not serve and gets a
404). Nothing here knows that KB; it is what the lookup does.

URL grammar below ``/<vdir>/<mailbox>/``:

* ``Inbox/Projects/`` - visible folders by display name (case-insensitive);
* ``Inbox/<anything>-<id>.EML`` - an item; the id after the last ``-`` is
  what counts, the subject before it is decoration (``Hello-17.EML``), so a
  URL stays valid as long as the item keeps its store id;
* ``-FlatUrlSpace-/<folder id>/`` and ``.../<id>.EML`` - the permanent URL
  of a visible folder or item, valid after a rename (Exchange's permanenturl);
* ``NON_IPM_SUBTREE/<hidden folders>/<name>`` - the non-IPM folders under
  the mailbox root, where sync state lives; a blob is named by its state name;
* ``##DavMailSubmissionURI##/`` - the mail submission URI.
"""
from __future__ import annotations

import enum
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urlsplit

from host.auth.stage import challenge_headers
from host.errors import ERROR_ACCESS_DENIED, ERROR_PATH_NOT_FOUND, HttpError
from host.request import Request
from plugins.owa.mailbox import Folder, Item, MailboxStore, NoSuchFolder, NoSuchItem

if TYPE_CHECKING:  # pragma: no cover
    from host.directory import User
    from host.service import WebService

MAILBOX_STORE_FOLDER = "MBX"  # ExIFS: \\.\BackOfficeStorage\<domain>\MBX holds the mailboxes
SUBMISSION_URI = "##DavMailSubmissionURI##"
NON_IPM_SUBTREE = "NON_IPM_SUBTREE"
FLAT_URL_SPACE = "-FlatUrlSpace-"
ITEM_EXTENSION = ".EML"
NO_SUBJECT = "No Subject"

_ITEM_NAME = re.compile(r"(?:.*-)?(\d{1,18})\.eml", re.IGNORECASE)
_UNSAFE_IN_NAME = re.compile(r'[\x00-\x1f/\\:*?"<>|%#]')
_NAME_LENGTH = 80  # subjects are cut, as Exchange cut long URL names
# RFC 3986 sub-delims Exchange left unescaped in hrefs; everything else is %-encoded UTF-8.
_HREF_SAFE = "/!$'()*,;=@~-._"


class Kind(enum.Enum):
    MAILBOX = "mailbox"  # the mailbox root (Top of Information Store)
    FOLDER = "folder"
    ITEM = "item"
    HIDDEN_ROOT = "hidden root"  # NON_IPM_SUBTREE
    HIDDEN_FOLDER = "hidden folder"
    STATE = "state"  # a blob in a hidden folder (sync state, partnerships)
    SUBMISSION = "submission"


@dataclass(frozen=True)
class Location:
    """What a URL below a mailbox names.

    ``folder`` is the folder itself (FOLDER, HIDDEN_FOLDER) or the one holding
    the item or blob (ITEM, STATE).
    """

    kind: Kind
    folder: Folder | None = None
    item: Item | None = None


# --- the vdir and the mailbox owner --------------------------------------------


def served_domain(physical_path: str) -> str | None:
    """The SMTP domain whose mailboxes a davex vdir serves, from its ``Path``.

    ``\\\\.\\BackOfficeStorage\\contoso.com\\MBX`` serves contoso.com. Other
    store paths (public folders, the whole ``BackOfficeStorage`` that
    /Exadmin names) hold no mailboxes, and the lab has no public store.
    """
    parts = [p for p in physical_path.replace("/", "\\").split("\\") if p]
    if (len(parts) == 4 and parts[0] == "." and parts[1].casefold() == "backofficestorage"
            and parts[3].casefold() == MAILBOX_STORE_FOLDER.casefold() and parts[2]):
        return parts[2].casefold()
    return None


def url_segments(path_info: str) -> list[str]:
    """PATH_INFO as decoded segments.

    WSGI hands the path over as latin-1 (PEP 3333); clients send UTF-8, so a
    folder named ``Geschäftlich`` arrives percent-encoded and is decoded here.
    Bytes that are not UTF-8 cannot name anything: the segment is kept
    undecodable-safe and simply matches nothing.
    """
    raw = path_info.encode("latin-1", "replace")
    text = raw.decode("utf-8", "replace")
    return [segment for segment in text.split("/") if segment]


def mailbox_owner(service: WebService, domain: str, segment: str) -> User:
    """The user whose address ``<segment>@<domain>`` this is; 404 when nobody has it."""
    user = service.directory.find_by_smtp(f"{segment}@{domain}")
    if user is None or not user.account_enabled:
        raise HttpError(404, 0, ERROR_PATH_NOT_FOUND,
                        detail=f"No mailbox answers to {segment}@{domain}, the SMTP domain this "
                               "virtual directory serves.")
    return user


def check_access(environ, owner: User) -> None:
    """The mailbox opens as the authenticated user, and a user may open only their own.

    An ISAPI extension sets its own status and IIS logs substatus 0, so a
    denial is ``403 0 5`` (win32 5: access denied), as davex.dll's was. An
    anonymous request (Anonymous allowed on the vdir) is refused as IIS
    refuses the anonymous account an ACL denies: 401.3 with the vdir's
    challenges, so a browser asks for credentials.
    """
    identity = environ.get("host.identity")
    if identity is None or identity.anonymous:
        req = Request(environ)
        service = environ["host.service"]
        schemes = [s for s in service.auth_schemes if s.enabled(req.vdir) and s.authorization_schemes]
        raise HttpError(401, 3, ERROR_ACCESS_DENIED, headers=challenge_headers(schemes, req),
                        detail="The anonymous account has no access to mailboxes.")
    if identity.user.logon_name.casefold() != owner.logon_name.casefold():
        raise HttpError(403, 0, ERROR_ACCESS_DENIED,
                        detail=f"{identity.user.logon_name} has no rights on the mailbox of "
                               f"{owner.logon_name}.")


# --- names and hrefs ---------------------------------------------------------------


def item_name(item: Item) -> str:
    """The URL name of a visible item: its subject made URL-safe, then its id."""
    subject = _UNSAFE_IN_NAME.sub("_", " ".join(item.subject.split()))[:_NAME_LENGTH].rstrip(" .")
    return f"{subject or NO_SUBJECT}-{item.id}{ITEM_EXTENSION}"


def item_id_from_name(name: str) -> int | None:
    match = _ITEM_NAME.fullmatch(name)
    return int(match.group(1)) if match else None


def quote_segment(segment: str) -> str:
    return quote(segment, safe=_HREF_SAFE.replace("/", ""))


def unquoted_path(href: str, vdir_prefix: str) -> list[str] | None:
    """The decoded segments below the vdir of an href or URL; None if it is outside the vdir."""
    path = urlsplit(href).path if "://" in href else href
    segments = [unquote(s, encoding="utf-8", errors="replace") for s in path.split("/") if s]
    prefix = [s.casefold() for s in vdir_prefix.split("/") if s]
    if [s.casefold() for s in segments[: len(prefix)]] != prefix:
        return None
    return segments[len(prefix):]


class MailboxNamespace:
    """One request's view of one mailbox: resolves URL segments and builds hrefs.

    The folder tree is read once per request (a request that changes folders
    calls :meth:`forget`), so resolving a deep path costs one store query.

    :param store: the mailbox store.
    :param mailbox_id: the opened mailbox.
    :param base_href: the quoted URL of the mailbox root without a trailing
        slash, e.g. ``/exchange/alice``.
    """

    def __init__(self, store: MailboxStore, mailbox_id: str, base_href: str) -> None:
        self.store = store
        self.mailbox_id = mailbox_id
        self.base_href = base_href
        self._folders: dict[int, Folder] | None = None

    # -- the folder tree ---------------------------------------------------------

    def forget(self) -> None:
        """Drop the cached folder tree after a folder was created, moved or removed."""
        self._folders = None

    @property
    def folders(self) -> dict[int, Folder]:
        if self._folders is None:
            self._folders = {f.id: f for f in self.store.folders(self.mailbox_id, include_hidden=True)}
        return self._folders

    def children(self, parent: Folder | None, *, hidden: bool) -> list[Folder]:
        """Subfolders of ``parent`` (None: the top level of the IPM or non-IPM tree)."""
        parent_id = parent.id if parent is not None else None
        return [f for f in self.folders.values() if f.parent_id == parent_id and f.hidden == hidden]

    def path_of(self, folder: Folder) -> list[str]:
        """Display names from the top of its tree down to ``folder``."""
        names: list[str] = []
        current: Folder | None = folder
        for _ in range(len(self.folders) + 1):  # bounded by the tree size
            if current is None:
                return names
            names.insert(0, current.display_name)
            current = self.folders.get(current.parent_id) if current.parent_id is not None else None
        raise NoSuchFolder(self.mailbox_id, folder.id)

    def descendants(self, folder: Folder | None, *, hidden: bool) -> Iterator[Folder]:
        """Every folder below ``folder``, parents before children."""
        for child in sorted(self.children(folder, hidden=hidden), key=lambda f: f.display_name.casefold()):
            yield child
            yield from self.descendants(child, hidden=hidden)

    # -- hrefs -----------------------------------------------------------------------

    def href(self, *segments: str, collection: bool = False) -> str:
        quoted = "/".join(quote_segment(s) for s in segments)
        href = f"{self.base_href}/{quoted}" if quoted else f"{self.base_href}"
        return href + "/" if collection else href

    def folder_segments(self, folder: Folder) -> list[str]:
        names = self.path_of(folder)
        return [NON_IPM_SUBTREE, *names] if folder.hidden else names

    def folder_href(self, folder: Folder) -> str:
        return self.href(*self.folder_segments(folder), collection=True)

    def item_href(self, item: Item) -> str:
        folder = self.folders[item.folder_id]
        if folder.hidden:
            return self.href(*self.folder_segments(folder), item.subject)
        return self.href(*self.folder_segments(folder), item_name(item))

    def permanent_href(self, folder_id: int, item_id: int | None = None) -> str:
        """``-FlatUrlSpace-`` URL: stays valid when names change, and names deleted things."""
        if item_id is None:
            return self.href(FLAT_URL_SPACE, str(folder_id), collection=True)
        return self.href(FLAT_URL_SPACE, str(folder_id), f"{item_id}{ITEM_EXTENSION}")

    # -- resolution ----------------------------------------------------------------

    def locate(self, segments: Sequence[str]) -> Location | None:
        """What the segments below the mailbox name, or None when nothing is there."""
        if not segments:
            return Location(Kind.MAILBOX)
        head = segments[0].casefold()
        if head == SUBMISSION_URI.casefold():
            return Location(Kind.SUBMISSION) if len(segments) == 1 else None
        if head == NON_IPM_SUBTREE.casefold():
            return self._locate_hidden(segments[1:])
        if head == FLAT_URL_SPACE.casefold():
            return self._locate_flat(segments[1:])
        return self._locate_visible(segments)

    def _walk(self, names: Sequence[str], *, hidden: bool) -> tuple[Folder | None, int]:
        """Follow folder names as far as they go: (deepest folder, names consumed)."""
        folder: Folder | None = None
        for used, name in enumerate(names):
            wanted = name.casefold()
            child = next((f for f in self.children(folder, hidden=hidden)
                          if f.display_name.casefold() == wanted), None)
            if child is None:
                return folder, used
            folder = child
        return folder, len(names)

    def _locate_visible(self, segments: Sequence[str]) -> Location | None:
        folder, used = self._walk(segments, hidden=False)
        if folder is not None and used == len(segments):
            return Location(Kind.FOLDER, folder)
        if folder is None or used != len(segments) - 1:
            return None
        return self._item_in(folder, segments[-1])

    def path_form(self, segments: Sequence[str]) -> list[str]:
        """The segments with a folder's permanent URL (``-FlatUrlSpace-/<id>/...``) spelled as its path.

        A permanent URL names the same folder as its path, but
        ``-FlatUrlSpace-`` itself names no collection, so a MOVE or COPY
        whose Destination is a folder's permanent URL would fail WsgiDAV's
        check that the destination's parent is a collection (RFC 4918
        9.8.5/9.9.4: 409). Exchange took such Destinations.
        """
        if len(segments) >= 2 and segments[0].casefold() == FLAT_URL_SPACE.casefold():
            found = self._locate_flat(segments[1:2])
            if found is not None:
                return [*self.folder_segments(found.folder), *segments[2:]]
        return list(segments)

    def _locate_flat(self, segments: Sequence[str]) -> Location | None:
        if not segments or not segments[0].isdigit() or len(segments) > 2:
            return None
        folder = self.folders.get(int(segments[0]))
        if folder is None or folder.hidden:
            return None
        if len(segments) == 1:
            return Location(Kind.FOLDER, folder)
        return self._item_in(folder, segments[1])

    def _item_in(self, folder: Folder, name: str) -> Location | None:
        item_id = item_id_from_name(name)
        if item_id is None:
            return None
        try:
            item = self.store.get_item(self.mailbox_id, item_id)
        except NoSuchItem:
            return None
        return Location(Kind.ITEM, folder, item) if item.folder_id == folder.id else None

    def _locate_hidden(self, segments: Sequence[str]) -> Location | None:
        folder, used = self._walk(segments, hidden=True)
        if used == len(segments):
            return Location(Kind.HIDDEN_FOLDER, folder) if folder else Location(Kind.HIDDEN_ROOT)
        if folder is None or used != len(segments) - 1:
            return None
        blob = self.state_item(folder, segments[-1])
        return Location(Kind.STATE, folder, blob) if blob else None

    def state_path(self, folder: Folder) -> str:
        """The ``folder_path`` that put_state/get_state know this hidden folder by."""
        return "/".join(self.path_of(folder))

    def state_item(self, folder: Folder, name: str) -> Item | None:
        """The blob stored under ``name`` in a hidden folder (state names are exact)."""
        return next((item for item in self.items(folder) if item.subject == name), None)

    def items(self, folder: Folder, *, scanned_only: bool = False) -> Iterator[Item]:
        """Every item of a folder, newest first, a page at a time."""
        page = 500
        total = self.store.count_items(self.mailbox_id, folder.id)
        for offset in range(0, total, page):  # bounded by the count read up front
            yield from self.store.list_items(self.mailbox_id, folder.id, offset=offset, limit=page,
                                             scanned_only=scanned_only)


@dataclass(frozen=True)
class OpenedMailbox:
    """The mailbox one request opened.

    :param owner: the directory user owning it (the authenticated user).
    :param segment: the URL segment that named it, as the client spelled it.
    :param vdir: SCRIPT_NAME as requested (``/exchange``, ``/Exchange-OMA``).
    :param namespace: resolves the URLs below it.
    """

    owner: User
    segment: str
    vdir: str
    namespace: MailboxNamespace

    def locate(self, segments: Sequence[str]) -> Location | None:
        """What vdir-relative segments (mailbox segment first) name; None outside this mailbox."""
        if not segments or segments[0].casefold() != self.segment.casefold():
            return None
        return self.namespace.locate(segments[1:])

    def segments_of(self, href: str) -> list[str] | None:
        """Vdir-relative segments of an href or absolute URL; None when outside the vdir."""
        return unquoted_path(href, self.vdir)

    def path_form(self, segments: Sequence[str]) -> list[str]:
        """Vdir-relative segments with a permanent folder URL spelled as the folder's path
        (:meth:`MailboxNamespace.path_form`); segments outside this mailbox stay as they are."""
        if not segments or segments[0].casefold() != self.segment.casefold():
            return list(segments)
        return [segments[0], *self.namespace.path_form(segments[1:])]
