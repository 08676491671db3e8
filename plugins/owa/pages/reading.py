"""Reading an item: the message page, attachment downloads, and Delete.

Opening a message marks it read, as OWA did. Attachments always download
(``Content-Disposition: attachment``) and never render inside the mailbox's
origin, so an HTML or SVG attachment cannot run script with the user's
session. Delete moves to Deleted Items; inside Deleted Items it removes the
item for good, as the store's soft delete does.
"""
from __future__ import annotations

from urllib.parse import quote

from webob import Response

from plugins.owa.mailbox import FolderType, Item
from plugins.owa.pages import canary, message, rendering
from plugins.owa.pages.mailboxview import MailboxView

_MAIL_CLASSES = ("IPM.Note", "IPM.Schedule.Meeting", "IPM.Post", "REPORT.")


def is_mail(item: Item) -> bool:
    return item.message_class.startswith(_MAIL_CLASSES)


def show(view: MailboxView, item: Item):
    folder = view.namespace.folders[item.folder_id]
    if not is_mail(item):
        properties = sorted((k, v) for k, v in item.properties.items() if isinstance(v, (str, int, float)) and v != "")
        return view.render("item.html", item=item, folder=folder, folder_url=view.folder_url(folder),
                           properties=properties)
    if not item.read:
        item = view.store.update_item(view.mailbox_id, item.id, read=True)
    mail = message.read(view.store.get_mime(view.mailbox_id, item.id))
    return view.render("message.html", item=item, mail=mail, folder=folder, folder_url=view.folder_url(folder),
                       attachment_url=lambda n: view.item_url(item, Cmd="attachment", Part=n),
                       answer_url=lambda action: view.item_url(item, Cmd=action),
                       delete_url=view.item_url(item, Cmd="delete"))


def download(view: MailboxView, item: Item):
    number = view.req.GET.get("Part", "")
    name, _content_type, data = message.attachment(view.store.get_mime(view.mailbox_id, item.id),
                                                   int(number) if number.isdigit() else 0)
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "_")
    response = Response(body=data, content_type="application/octet-stream")
    response.headers["Content-Disposition"] = (f"attachment; filename=\"{ascii_name}\"; "
                                               f"filename*=UTF-8''{quote(name, safe='')}")
    response.headerlist.extend(rendering.SECURITY_HEADERS)
    return response


def delete(view: MailboxView, item: Item):
    canary.check(view.req)
    folder = view.namespace.folders[item.folder_id]
    deleted_items = view.default_folder(FolderType.DELETED_ITEMS)
    view.store.delete_items(view.mailbox_id, [item.id])
    notice = "removed" if folder.id == deleted_items.id else "deleted"
    return rendering.redirect(view.folder_url(folder, Notice=notice))
