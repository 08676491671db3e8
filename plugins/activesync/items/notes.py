"""The Notes class (MS-ASNOTE, protocol 14.0 and later)."""
from __future__ import annotations

from plugins.activesync.items.fields import DATE, LIST, ClassSpec, Field

SPEC = ClassSpec(
    name="Notes",
    message_class="IPM.StickyNote",
    page="Notes",
    fields=(
        Field("Notes:Subject", "subject"),
        Field("Notes:MessageClass", "message_class"),
        Field("Notes:LastModifiedDate", "last_modified", DATE),
        Field("Notes:Categories", "categories", LIST, child="Notes:Category"),
    ),
)
