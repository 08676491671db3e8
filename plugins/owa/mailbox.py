"""The mailbox store interface: what /exchange, OWA, SMTP delivery and MASSYNC may ask of a store.

Everything that touches a mailbox goes through :class:`MailboxStore`, so a plugin
can replace the default SQLite store (``plugins.owa.sqlitestore``) with another
one without the WebDAV or ActiveSync layers noticing. The vocabulary is
Exchange's: mailboxes hold folders, folders hold items, every change gets a
change number, deletions leave tombstones, and quotas are the three Exchange
2003 limits.

Every folder and item call takes the mailbox id first, so a URL naming one
user's mailbox can never reach another's folder by guessing an id.
"""
from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


class StoreError(Exception):
    """Base class of every error the mailbox store raises on purpose."""


class NoSuchMailbox(StoreError):
    def __init__(self, mailbox_id: str) -> None:
        super().__init__(f"No mailbox {mailbox_id!r} in this store.")
        self.mailbox_id = mailbox_id


class MailboxExists(StoreError):
    """The id is taken, or (with ``smtp_address``) that mailbox already has the address."""

    def __init__(self, mailbox_id: str, smtp_address: str | None = None) -> None:
        if smtp_address is None:
            super().__init__(f"Mailbox {mailbox_id!r} already exists.")
        else:
            super().__init__(
                f"The SMTP address {smtp_address!r} already belongs to mailbox {mailbox_id!r}."
            )
        self.mailbox_id = mailbox_id
        self.smtp_address = smtp_address


class NoSuchFolder(StoreError):
    def __init__(self, mailbox_id: str, folder: int | str) -> None:
        super().__init__(f"Mailbox {mailbox_id!r} has no folder {folder!r}.")
        self.mailbox_id = mailbox_id
        self.folder = folder


class FolderExists(StoreError):
    """A sibling folder already has this display name (compared case-insensitively)."""

    def __init__(self, mailbox_id: str, display_name: str) -> None:
        super().__init__(
            f"Mailbox {mailbox_id!r} already has a folder named {display_name!r} there."
        )
        self.mailbox_id = mailbox_id
        self.display_name = display_name


class SpecialFolderError(StoreError):
    """Default and hidden folders cannot be renamed, moved or deleted.

    EAS reports this as FolderUpdate/FolderDelete Status 3 ("special system folder").
    """

    def __init__(self, mailbox_id: str, display_name: str, action: str) -> None:
        super().__init__(
            f"Cannot {action} {display_name!r} in mailbox {mailbox_id!r}: it is a special folder."
        )
        self.mailbox_id = mailbox_id
        self.display_name = display_name


class InvalidFolderMove(StoreError):
    """A folder cannot become its own descendant."""


class NoSuchItem(StoreError):
    def __init__(self, mailbox_id: str, item: int | str) -> None:
        super().__init__(f"Mailbox {mailbox_id!r} has no item {item!r}.")
        self.mailbox_id = mailbox_id
        self.item = item


class QuotaExceededError(StoreError):
    """A write would leave the mailbox over one of its quotas.

    Carries the numbers an administrator needs (PITFALLS 2.11): which quota,
    its limit in KB, the mailbox size before the write and the size the write
    would have reached, in bytes.
    """

    def __init__(
        self, mailbox_id: str, quota_name: str, limit_kb: int, size: int, attempted_size: int
    ) -> None:
        super().__init__(
            f"Mailbox {mailbox_id!r} would exceed its {quota_name}: "
            f"the write would bring it to {-(-attempted_size // 1024):,} KB "
            f"(now {-(-size // 1024):,} KB), the limit is {limit_kb:,} KB."
        )
        self.mailbox_id = mailbox_id
        self.quota_name = quota_name
        self.limit_kb = limit_kb
        self.size = size
        self.attempted_size = attempted_size


# ---------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------


class FolderType(enum.IntEnum):
    """EAS folder types, MS-ASCMD 2.2.3.186.3 (FolderSync Type)."""

    USER_GENERIC = 1
    INBOX = 2
    DRAFTS = 3
    DELETED_ITEMS = 4
    SENT_ITEMS = 5
    OUTBOX = 6
    TASKS = 7
    CALENDAR = 8
    CONTACTS = 9
    NOTES = 10
    JOURNAL = 11
    USER_MAIL = 12
    USER_CALENDAR = 13
    USER_CONTACTS = 14
    USER_TASKS = 15
    USER_JOURNAL = 16
    USER_NOTES = 17
    UNKNOWN = 18
    RECIPIENT_INFO_CACHE = 19

    @property
    def container_class(self) -> str:
        """PR_CONTAINER_CLASS, which WebDAV shows as ``outlookfolderclass``."""
        return _CONTAINER_CLASSES.get(self, "IPF.Note")


_CONTAINER_CLASSES = {
    FolderType.TASKS: "IPF.Task",
    FolderType.USER_TASKS: "IPF.Task",
    FolderType.CALENDAR: "IPF.Appointment",
    FolderType.USER_CALENDAR: "IPF.Appointment",
    FolderType.CONTACTS: "IPF.Contact",
    FolderType.USER_CONTACTS: "IPF.Contact",
    FolderType.RECIPIENT_INFO_CACHE: "IPF.Contact",
    FolderType.NOTES: "IPF.StickyNote",
    FolderType.USER_NOTES: "IPF.StickyNote",
    FolderType.JOURNAL: "IPF.Journal",
    FolderType.USER_JOURNAL: "IPF.Journal",
}

# The folders Exchange 2003 (English) creates in every mailbox, under
# "Top of Information Store". Outlook 2003 brought "Junk E-mail"; EAS shows
# it as a user-created mail folder (type 12), as Exchange did.
DEFAULT_FOLDERS: tuple[tuple[str, FolderType], ...] = (
    ("Calendar", FolderType.CALENDAR),
    ("Contacts", FolderType.CONTACTS),
    ("Deleted Items", FolderType.DELETED_ITEMS),
    ("Drafts", FolderType.DRAFTS),
    ("Inbox", FolderType.INBOX),
    ("Journal", FolderType.JOURNAL),
    ("Junk E-mail", FolderType.USER_MAIL),
    ("Notes", FolderType.NOTES),
    ("Outbox", FolderType.OUTBOX),
    ("Sent Items", FolderType.SENT_ITEMS),
    ("Tasks", FolderType.TASKS),
)

# Types a client may give a new folder (EAS FolderCreate); 2 to 11 are the
# default folders, which exist once per mailbox.
USER_FOLDER_TYPES = frozenset(
    {FolderType.USER_GENERIC, *(FolderType(t) for t in range(12, 18))}
)

# The non-IPM folder where Exchange 2003's MASSYNC kept sync state, one
# subfolder per device type and device id.
ACTIVESYNC_FOLDER = "Microsoft-Server-ActiveSync"

# Message class of the hidden items put_state() writes.
SYNC_STATE_CLASS = "Exchange.ActiveSync.SyncState"


class QuotaState(enum.Enum):
    OK = "ok"
    WARNING = "warning"  # over IssueWarningQuota
    PROHIBIT_SEND = "prohibit_send"  # over ProhibitSendQuota
    PROHIBIT_SEND_RECEIVE = "prohibit_send_receive"  # over ProhibitSendReceiveQuota


class Importance(enum.IntEnum):
    """PR_IMPORTANCE values."""

    LOW = 0
    NORMAL = 1
    HIGH = 2


class FlagStatus(enum.IntEnum):
    """PR_FLAG_STATUS values (EAS Flag/Status uses the same numbers)."""

    NONE = 0
    COMPLETE = 1
    FLAGGED = 2


# ---------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Quotas:
    """The three Exchange 2003 storage limits, in KB; ``None`` means no limit.

    ``0`` is accepted and read as "no limit", as in Exchange System Manager
    where an unticked box stores nothing.
    """

    issue_warning_kb: int | None = None
    prohibit_send_kb: int | None = None
    prohibit_send_receive_kb: int | None = None

    def __post_init__(self) -> None:
        for name in ("issue_warning_kb", "prohibit_send_kb", "prohibit_send_receive_kb"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be a size in KB or None, got {value!r}")
            if value == 0:
                object.__setattr__(self, name, None)

    def state_for(self, size: int) -> QuotaState:
        """Which limit a mailbox of ``size`` bytes is over, the most severe first."""
        for limit, state in (
            (self.prohibit_send_receive_kb, QuotaState.PROHIBIT_SEND_RECEIVE),
            (self.prohibit_send_kb, QuotaState.PROHIBIT_SEND),
            (self.issue_warning_kb, QuotaState.WARNING),
        ):
            if limit is not None and size > limit * 1024:
                return state
        return QuotaState.OK


@dataclass(frozen=True)
class Mailbox:
    id: str
    display_name: str
    smtp_address: str
    # Per-mailbox limits; None means "use mailbox store defaults", the
    # single check box Exchange 2003 offers for all three limits at once.
    quotas: Quotas | None
    change_number: int  # the mailbox's highest change number so far


@dataclass(frozen=True)
class Folder:
    id: int
    mailbox_id: str
    # None for a top-level folder: directly under "Top of Information Store"
    # when visible, directly under the mailbox root when hidden.
    parent_id: int | None
    display_name: str
    folder_type: FolderType
    hidden: bool  # non-IPM: never listed, never in hierarchy changes, counts toward quota
    special: bool  # a default folder: cannot be renamed, moved or deleted
    change_number: int

    @property
    def container_class(self) -> str:
        return self.folder_type.container_class


@dataclass(frozen=True)
class NewItem:
    """An item to store. Mail carries its MIME; other items carry ``properties``.

    ``properties`` holds the structured data of contacts, calendar items,
    tasks and notes as JSON-compatible values (datetimes as ISO 8601
    strings). Calendar items use the keys ``start``, ``end``, ``all_day``,
    ``location``, ``organizer``, ``attendees``, ``recurrence``,
    ``exceptions`` and ``time_zone``.
    """

    message_class: str = "IPM.Note"
    mime: bytes = b""
    subject: str = ""
    sender: str = ""
    to: str = ""
    cc: str = ""
    date_sent: datetime | None = None
    date_received: datetime | None = None  # None: the moment it is stored
    read: bool = False
    flag_status: FlagStatus = FlagStatus.NONE
    importance: Importance = Importance.NORMAL
    has_attachments: bool = False
    properties: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_mime(cls, mime: bytes, *, date_received: datetime | None = None) -> NewItem:
        """Index a message as the store does on delivery: the MIME stays as it came."""
        msg = BytesParser(policy=policy.default).parsebytes(mime)
        return cls(
            message_class=_message_class(msg),
            mime=mime,
            subject=_header_text(msg, "Subject"),
            sender=_header_text(msg, "From"),
            to=_header_text(msg, "To"),
            cc=_header_text(msg, "Cc"),
            date_sent=_date_sent(msg),
            date_received=date_received,
            importance=_importance(msg),
            has_attachments=any(part.is_attachment() for part in msg.walk()),
        )


@dataclass(frozen=True)
class Item:
    id: int
    mailbox_id: str
    folder_id: int
    message_class: str
    subject: str
    sender: str
    to: str
    cc: str
    date_sent: datetime | None
    date_received: datetime
    read: bool
    flag_status: FlagStatus
    importance: Importance
    has_attachments: bool
    size: int  # bytes: MIME plus properties, what the item costs against quota
    properties: Mapping[str, Any]
    change_number: int
    scan_stamp: int  # the store's scan id when a virus scanner last passed it


# MS-OXOCAL 2.2.1.15: the PidLidClipEnd of a recurring series that has no end.
NO_END = datetime(4500, 8, 31, 23, 59, tzinfo=timezone.utc)


def clip_end(properties: Mapping[str, Any]) -> datetime | None:
    """When a calendar item is over, from its structured properties: PidLidClipEnd (MS-OXOCAL 2.2.1.15).

    A single appointment is over at its ``end``; a recurring series when its
    recurrence ends (``until``), and never (:data:`NO_END`) when the
    recurrence names no end date. A series bounded by ``occurrences`` alone
    counts as one without end: its last occurrence is known only by expanding
    the pattern, and keeping a finished series costs less than losing a
    coming occurrence. None for an item without an end (not an appointment).
    """
    recurrence = properties.get("recurrence")
    if isinstance(recurrence, Mapping):
        return _moment(recurrence.get("until")) or NO_END
    return _moment(properties.get("end"))


def _moment(value: Any) -> datetime | None:
    """A date of the structured properties (ISO 8601 text, as NewItem keeps them) as an aware datetime."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class ItemChanges:
    """What happened in one folder after a change number, for a sync engine.

    ``deleted`` holds tombstones: items deleted or moved out that existed at
    the mark. An item added and removed after the mark shows up nowhere.
    """

    added: tuple[int, ...]
    changed: tuple[int, ...]
    deleted: tuple[int, ...]
    change_number: int  # the mailbox's high-water mark to ask from next time


@dataclass(frozen=True)
class HierarchyChanges:
    """Visible folders added, changed (renamed, moved) and deleted after a mark."""

    added: tuple[int, ...]
    changed: tuple[int, ...]
    deleted: tuple[int, ...]
    change_number: int


# (mailbox_id, folder ids whose contents or own properties changed, new change number)
CommitCallback = Callable[[str, frozenset[int], int], None]


# ---------------------------------------------------------------------------
# The interface
# ---------------------------------------------------------------------------


class MailboxStore(ABC):
    """A mailbox store. Implementations must be safe to call from many threads.

    Change numbers are per mailbox: each folder or item change in a mailbox
    gets the next number, so one high-water mark covers every folder of it.
    Item ids are like Exchange entry ids: moving an item gives it a new id
    (EAS MoveItems returns it as DstMsgId); copying makes a new item.
    """

    # -- mailboxes ---------------------------------------------------------

    @abstractmethod
    def create_mailbox(self, mailbox_id: str, display_name: str, smtp_address: str) -> Mailbox:
        """Create a mailbox with Exchange 2003's default and hidden folders."""

    @abstractmethod
    def get_mailbox(self, mailbox_id: str) -> Mailbox: ...

    @abstractmethod
    def find_mailbox(self, smtp_address: str) -> Mailbox:
        """The mailbox whose primary SMTP address this is (case-insensitive), for delivery."""

    @abstractmethod
    def list_mailboxes(self) -> list[Mailbox]: ...

    # -- folders -----------------------------------------------------------

    @abstractmethod
    def folders(self, mailbox_id: str, *, include_hidden: bool = False) -> list[Folder]:
        """The folder hierarchy, parents before children."""

    @abstractmethod
    def get_folder(self, mailbox_id: str, folder_id: int) -> Folder: ...

    @abstractmethod
    def default_folder(self, mailbox_id: str, folder_type: FolderType) -> Folder:
        """Inbox, Deleted Items, ... by EAS type (types 2 to 11)."""

    @abstractmethod
    def folder_by_path(self, mailbox_id: str, path: str) -> Folder:
        """A visible folder by its '/'-separated display names, e.g. ``Inbox/Projects``."""

    @abstractmethod
    def create_folder(
        self,
        mailbox_id: str,
        parent_id: int | None,
        display_name: str,
        folder_type: FolderType = FolderType.USER_MAIL,
    ) -> Folder:
        """Create a visible folder; ``parent_id`` None means top level."""

    @abstractmethod
    def rename_folder(self, mailbox_id: str, folder_id: int, display_name: str) -> Folder: ...

    @abstractmethod
    def move_folder(self, mailbox_id: str, folder_id: int, parent_id: int | None) -> Folder:
        """Re-parent a folder; it keeps its id, as EAS FolderUpdate expects."""

    @abstractmethod
    def delete_folder(self, mailbox_id: str, folder_id: int, *, hard: bool = False) -> None:
        """Delete as OWA does (move under Deleted Items) or, with ``hard``, remove it
        and everything in it. Deleting inside Deleted Items is always hard."""

    # -- items -------------------------------------------------------------

    @abstractmethod
    def deliver(
        self,
        mailbox_id: str,
        mime: bytes,
        *,
        folder_id: int | None = None,
        date_received: datetime | None = None,
        scanned: bool = True,
    ) -> Item:
        """Store an incoming message (to the Inbox unless told otherwise).

        ``scanned`` False stores it unstamped, i.e. pending virus scan.
        Raises :class:`QuotaExceededError` past ProhibitSendReceiveQuota.
        """

    @abstractmethod
    def add_item(
        self, mailbox_id: str, folder_id: int, item: NewItem, *, scanned: bool = True
    ) -> Item:
        """Store one item; quota-checked like delivery."""

    @abstractmethod
    def add_items(
        self, mailbox_id: str, folder_id: int, items: Iterable[NewItem], *, scanned: bool = True
    ) -> list[int]:
        """Store many items in one transaction (imports, seeding); all or nothing."""

    @abstractmethod
    def get_item(self, mailbox_id: str, item_id: int) -> Item: ...

    @abstractmethod
    def get_mime(self, mailbox_id: str, item_id: int) -> bytes: ...

    @abstractmethod
    def update_item(
        self,
        mailbox_id: str,
        item_id: int,
        *,
        read: bool | None = None,
        flag_status: FlagStatus | None = None,
        importance: Importance | None = None,
        properties: Mapping[str, Any] | None = None,
    ) -> Item:
        """Change properties; ``properties`` replaces the structured properties.

        Replacing properties is a write that can hit ProhibitSendReceiveQuota;
        flags alone never are.
        """

    @abstractmethod
    def replace_item(self, mailbox_id: str, item_id: int, item: NewItem) -> Item:
        """Save an edited message under its id, as MAPI's SaveChangesMessage does for an open message.

        The MIME, the columns indexed from it and the structured properties
        become ``item``'s; the folder, DateReceived, read and flag state stay.
        A sync engine sees a change. Growing the item is a write that can hit
        ProhibitSendReceiveQuota; shrinking it never is.
        """

    @abstractmethod
    def move_item(self, mailbox_id: str, item_id: int, folder_id: int) -> Item:
        """Move within the mailbox; returns the item under its new id. Allowed over quota."""

    @abstractmethod
    def copy_item(self, mailbox_id: str, item_id: int, folder_id: int) -> Item:
        """Copy within the mailbox; the copy counts toward quota."""

    @abstractmethod
    def delete_items(self, mailbox_id: str, item_ids: Iterable[int], *, hard: bool = False) -> None:
        """Soft delete moves to Deleted Items (size unchanged: Exchange counts
        Deleted Items); hard delete, or any delete inside Deleted Items, removes
        the items. Allowed over quota. All or nothing."""

    @abstractmethod
    def list_items(
        self,
        mailbox_id: str,
        folder_id: int,
        *,
        offset: int = 0,
        limit: int = 50,
        scanned_only: bool = False,
    ) -> list[Item]:
        """A page of items, newest received first. ``scanned_only`` omits items
        pending virus scan, as the Exchange store did for WebDAV SEARCH (KB827615)."""

    @abstractmethod
    def count_items(self, mailbox_id: str, folder_id: int, *, scanned_only: bool = False) -> int: ...

    # -- change tracking ---------------------------------------------------

    @abstractmethod
    def changes_since(self, mailbox_id: str, folder_id: int, change_number: int) -> ItemChanges:
        """Item adds, changes and tombstones in a folder after ``change_number``."""

    @abstractmethod
    def hierarchy_changes_since(self, mailbox_id: str, change_number: int) -> HierarchyChanges:
        """Visible folder adds, changes and tombstones after ``change_number``."""

    @abstractmethod
    def on_commit(self, callback: CommitCallback) -> Callable[[], None]:
        """Call ``callback`` after every commit that changed a mailbox.

        It runs after the transaction is durable, on the committing thread,
        never for a rolled-back write; exceptions it raises are logged and
        swallowed. Returns a function that unregisters it.
        """

    # -- sync state in hidden folders --------------------------------------

    @abstractmethod
    def put_state(self, mailbox_id: str, folder_path: str, name: str, data: bytes) -> None:
        """Store a blob as a hidden item under the mailbox root (e.g. folder
        ``Microsoft-Server-ActiveSync/PocketPC/DEVICE1``), creating hidden
        folders as needed. Counts toward quota and is refused past
        ProhibitSendReceiveQuota, which is how a full mailbox breaks sync."""

    @abstractmethod
    def get_state(self, mailbox_id: str, folder_path: str, name: str) -> bytes:
        """Raises :class:`NoSuchItem` when nothing is stored under ``name``."""

    @abstractmethod
    def delete_state(self, mailbox_id: str, folder_path: str, name: str) -> None:
        """Remove a blob if present; allowed over quota."""

    # -- quotas ------------------------------------------------------------

    @abstractmethod
    def store_quotas(self) -> Quotas:
        """The mailbox store defaults."""

    @abstractmethod
    def set_store_quotas(self, quotas: Quotas) -> None: ...

    @abstractmethod
    def set_mailbox_quotas(self, mailbox_id: str, quotas: Quotas | None) -> None:
        """Override the store defaults for one mailbox; ``None`` goes back to them."""

    @abstractmethod
    def effective_quotas(self, mailbox_id: str) -> Quotas: ...

    @abstractmethod
    def mailbox_size(self, mailbox_id: str) -> int:
        """Bytes the mailbox holds, hidden folders and Deleted Items included."""

    @abstractmethod
    def quota_state(self, mailbox_id: str) -> QuotaState: ...

    # -- virus scanning (PITFALLS 2.12) ------------------------------------

    @abstractmethod
    def current_scan_id(self) -> int: ...

    @abstractmethod
    def new_scan_id(self) -> int:
        """A scanner got new signatures: every item becomes pending until rescanned."""

    @abstractmethod
    def mark_scanned(self, mailbox_id: str, item_ids: Iterable[int] | None = None) -> int:
        """Stamp items (all of the mailbox's when ``None``) with the current scan id,
        as background scanning does. Not a change: sync engines do not see it.
        Returns how many items were stamped."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> MailboxStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# ---------------------------------------------------------------------------
# MIME indexing
# ---------------------------------------------------------------------------


def _header_text(msg: EmailMessage, name: str) -> str:
    """A header as text; a header the parser chokes on is kept raw rather than lost."""
    try:
        value = msg.get(name)
    except (ValueError, LookupError, TypeError, AttributeError):
        value = next((raw for key, raw in msg.raw_items() if key.lower() == name.lower()), None)
    return "" if value is None else str(value)


def _date_sent(msg: EmailMessage) -> datetime | None:
    try:
        header = msg.get("Date")
        sent = getattr(header, "datetime", None)
    except (ValueError, LookupError, TypeError, AttributeError):
        return None
    if sent is None:
        return None
    return sent.replace(tzinfo=timezone.utc) if sent.tzinfo is None else sent


def _importance(msg: EmailMessage) -> Importance:
    importance = _header_text(msg, "Importance").strip().lower()
    if importance in ("high", "low", "normal"):
        return Importance[importance.upper()]
    priority = _header_text(msg, "X-Priority").strip()[:1]
    if priority in ("1", "2"):
        return Importance.HIGH
    if priority in ("4", "5"):
        return Importance.LOW
    return Importance.NORMAL


_MEETING_CLASSES = {
    "REQUEST": "IPM.Schedule.Meeting.Request",
    "CANCEL": "IPM.Schedule.Meeting.Canceled",
}
_RESPONSE_CLASSES = {
    "ACCEPTED": "IPM.Schedule.Meeting.Resp.Pos",
    "DECLINED": "IPM.Schedule.Meeting.Resp.Neg",
    "TENTATIVE": "IPM.Schedule.Meeting.Resp.Tent",
}


def _message_class(msg: EmailMessage) -> str:
    """PR_MESSAGE_CLASS as Exchange's IMAIL conversion assigned it on delivery."""
    content_type = msg.get_content_type()
    if content_type == "multipart/signed":
        return "IPM.Note.SMIME.MultipartSigned"
    if content_type in ("application/pkcs7-mime", "application/x-pkcs7-mime"):
        return "IPM.Note.SMIME"
    for part in msg.walk():
        if part.get_content_type() != "text/calendar":
            continue
        try:
            calendar = part.get_content()
        except (ValueError, LookupError):
            continue
        method = str(part.get_param("method", "") or _ical_value(calendar, "METHOD")).upper()
        if method in _MEETING_CLASSES:
            return _MEETING_CLASSES[method]
        if method == "REPLY":
            partstat = _ical_value(calendar, "ATTENDEE", parameter="PARTSTAT").upper()
            return _RESPONSE_CLASSES.get(partstat, "IPM.Schedule.Meeting.Resp.Pos")
    return "IPM.Note"


def _ical_value(calendar: str | bytes, name: str, *, parameter: str | None = None) -> str:
    """The value (or one parameter) of the first iCalendar line named ``name``."""
    if isinstance(calendar, bytes):
        calendar = calendar.decode("utf-8", "replace")
    for line in calendar.splitlines():
        head, _, value = line.partition(":")
        parts = head.split(";")
        if parts[0].strip().upper() != name:
            continue
        if parameter is None:
            return value.strip()
        for param in parts[1:]:
            key, _, param_value = param.partition("=")
            if key.strip().upper() == parameter:
                return param_value.strip().strip('"')
        return ""
    return ""
