"""Items on the wire: which EAS class a folder holds, and the converters per class."""
from __future__ import annotations

from lxml import etree

from plugins.activesync.backend import MailboxAccess, MailboxItem
from plugins.activesync.items import calendar, contacts, drafts, email, fields, notes, tasks
from plugins.activesync.items.drafts import Saved
from plugins.activesync.items.options import ItemOptions
from plugins.activesync.personas import V14_0, ProtocolVersion
from plugins.owa.mailbox import NewItem

EMAIL, CALENDAR, CONTACTS, TASKS, NOTES = "Email", "Calendar", "Contacts", "Tasks", "Notes"

# MS-ASCMD 2.2.3.186.3 folder types -> the class their items sync as. Journal
# folders (11, 16) are listed by FolderSync but hold nothing EAS syncs.
CLASS_BY_FOLDER_TYPE: dict[int, str] = {
    1: EMAIL, 2: EMAIL, 3: EMAIL, 4: EMAIL, 5: EMAIL, 6: EMAIL, 12: EMAIL,
    7: TASKS, 15: TASKS, 8: CALENDAR, 13: CALENDAR, 9: CONTACTS, 14: CONTACTS, 10: NOTES, 17: NOTES,
}
_SPECS: dict[str, fields.ClassSpec] = {
    CALENDAR: calendar.SPEC, CONTACTS: contacts.SPEC, TASKS: tasks.SPEC, NOTES: notes.SPEC,
}


def class_available(name: str, version: ProtocolVersion) -> bool:
    """Notes sync only from 14.0 on (MS-ASNOTE)."""
    return name != NOTES or version >= V14_0


def application_data(name: str, item: MailboxItem, backend: MailboxAccess, options: ItemOptions,
                     version: ProtocolVersion) -> etree._Element:
    if name == EMAIL:
        return email.application_data(item, backend, options, version)
    spec = _SPECS[name]
    properties = dict(item.properties)
    if name == NOTES:
        properties["message_class"] = item.message_class
    return fields.application_data(spec, item.subject, properties, options, version)


def add_item(name: str, backend: MailboxAccess, folder_id: str, folder_type: int, command: etree._Element,
             version: ProtocolVersion) -> Saved:
    """Store what a device's Add (MS-ASCMD 2.2.3.7.2) creates; mail only as a 16.x draft (:mod:`.drafts`).

    :raises ValueError: for an item the server does not take (item status 6).
    """
    if name == EMAIL:
        return drafts.add(backend, folder_id, folder_type, command, version)
    data = command.find("{AirSync}ApplicationData")
    if data is None:
        raise ValueError("Add without ApplicationData")
    spec = _SPECS[name]
    subject, properties = fields.properties_from(spec, data)
    if name == CONTACTS:
        subject = contacts.display_subject(properties)
    message_class = str(properties.pop("message_class", "") or spec.message_class)
    item = NewItem(message_class=message_class, subject=subject, properties=properties, read=True)
    return Saved(backend.add_item(folder_id, item), item)


def apply_change(name: str, backend: MailboxAccess, server_id: str, command: etree._Element, folder_type: int,
                 version: ProtocolVersion) -> Saved:
    """Apply a device's Change (MS-ASCMD 2.2.3.24); a 16.x draft's edit or Send goes to :mod:`.drafts`.

    :raises ValueError: for a change the server does not take (item status 6).
    """
    if name == EMAIL and drafts.edits(command, folder_type, version):
        return drafts.change(backend, server_id, command, folder_type, version)
    data = command.find("{AirSync}ApplicationData")
    if data is None:
        raise ValueError("Change without ApplicationData")
    if name == EMAIL:
        email.apply_change(backend, server_id, data, version)
        return Saved(server_id)
    spec = _SPECS[name]
    previous = dict(backend.get_item(server_id).properties)
    subject, properties = fields.properties_from(spec, data, previous)
    properties.pop("message_class", None)
    if spec.subject_key:
        properties[spec.subject_key] = subject
    backend.change_item(server_id, properties=properties)
    return Saved(server_id)
