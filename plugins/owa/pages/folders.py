"""Folder views: a mail folder a page at a time, the calendar and the contacts as lists.

The light client showed 25 items a page (Options, "Messages per page"),
newest first; the store pages the same way, so a 10,000-item Inbox costs one
page of rows. Calendar and contacts are sorted by start and by "File as",
which the store does not index, so those lists read the folder once per page
view; that is fine for the mailboxes of a lab.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from plugins.owa.mailbox import Folder, FolderType, Item
from plugins.owa.pages.mailboxview import MailboxView

PAGE_SIZE = 25
CALENDARS = frozenset({FolderType.CALENDAR, FolderType.USER_CALENDAR})
CONTACT_FOLDERS = frozenset({FolderType.CONTACTS, FolderType.USER_CONTACTS})
NOTICES = {
    "sent": "Your message has been sent.",
    "deleted": "The item was moved to Deleted Items.",
    "removed": "The item was permanently deleted.",
}
_RECURRENCE = {"daily": "Daily", "weekly": "Weekly", "monthly": "Monthly", "yearly": "Yearly"}


@dataclass(frozen=True)
class Paging:
    page: int
    pages: int
    total: int

    @classmethod
    def of(cls, requested: str, total: int) -> Paging:
        pages = max(1, -(-total // PAGE_SIZE))
        page = int(requested) if requested.isdigit() else 1
        return cls(min(max(page, 1), pages), pages, total)

    @property
    def offset(self) -> int:
        return (self.page - 1) * PAGE_SIZE

    def window(self, rows: list) -> list:
        return rows[self.offset:self.offset + PAGE_SIZE]


def show(view: MailboxView, folder: Folder):
    requested = view.req.GET.get("Page", "1")
    notice = NOTICES.get(view.req.GET.get("Notice", ""))
    if folder.folder_type in CALENDARS:
        return _calendar(view, folder, requested)
    if folder.folder_type in CONTACT_FOLDERS:
        return _contacts(view, folder, requested)
    paging = Paging.of(requested, view.store.count_items(view.mailbox_id, folder.id))
    items = view.store.list_items(view.mailbox_id, folder.id, offset=paging.offset, limit=PAGE_SIZE)
    return view.render("folder.html", folder=folder, paging=paging, notice=notice,
                       rows=[(item, view.item_url(item)) for item in items],
                       page_url=lambda page: view.folder_url(folder, Page=page))


@dataclass(frozen=True)
class Appointment:
    item: Item
    start: datetime | None
    end: datetime | None
    all_day: bool
    location: str
    recurrence: str


def _calendar(view: MailboxView, folder: Folder, requested: str):
    appointments = sorted((_appointment(item) for item in view.namespace.items(folder)),
                          key=lambda a: (a.start is None, a.start or datetime.min.replace(tzinfo=timezone.utc)))
    paging = Paging.of(requested, len(appointments))
    return view.render("calendar.html", folder=folder, paging=paging, appointments=paging.window(appointments),
                       page_url=lambda page: view.folder_url(folder, Page=page))


def _appointment(item: Item) -> Appointment:
    props = item.properties
    recurrence = props.get("recurrence") or {}
    return Appointment(item, _time(props.get("start")), _time(props.get("end")), bool(props.get("all_day")),
                       str(props.get("location") or ""), _RECURRENCE.get(str(recurrence.get("type", "")), ""))


def _contacts(view: MailboxView, folder: Folder, requested: str):
    contacts = sorted(view.namespace.items(folder), key=lambda i: _file_as(i).casefold())
    paging = Paging.of(requested, len(contacts))
    rows = [(item, _file_as(item), item.properties) for item in paging.window(contacts)]
    return view.render("contacts.html", folder=folder, paging=paging, rows=rows,
                       page_url=lambda page: view.folder_url(folder, Page=page))


def _file_as(item: Item) -> str:
    return str(item.properties.get("file_as") or item.subject)


def _time(value: Any) -> datetime | None:
    """An ISO 8601 property as an aware datetime (the store keeps UTC)."""
    try:
        moment = datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment is not None and moment.tzinfo is None else moment
