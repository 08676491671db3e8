"""What a device asks of item content: the Sync/GetItemEstimate ``Options`` element.

Shared by every command that returns items (Sync, and later ItemOperations
and Search), so BodyPreference, truncation and MIME support mean the same
everywhere.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from lxml import etree

AS = "{AirSync}"
ASB = "{AirSyncBase}"

# MS-ASCMD 2.2.3.70.1 FilterType: how far back items are synced.
FILTER_DAYS = {0: None, 1: 1, 2: 3, 3: 7, 4: 14, 5: 31, 6: 93, 7: 186}

# MS-ASCMD 2.2.3.107 MIMETruncation and 2.2.3.193 Truncation (2.5): code -> characters.
TRUNCATION_SIZES = {0: 0, 1: 4096, 2: 5120, 3: 7168, 4: 10240, 5: 20480, 6: 51200, 7: 102400, 8: None}

BODY_PLAIN, BODY_HTML, BODY_RTF, BODY_MIME = 1, 2, 3, 4


class OptionsError(ValueError):
    """An Options element the protocol does not allow (Sync status 4)."""


@dataclass(frozen=True)
class BodyPreference:
    type: int
    truncation_size: int | None = None
    all_or_none: bool = False
    preview: int | None = None


@dataclass(frozen=True)
class ItemOptions:
    filter_type: int = 0
    body_preferences: tuple[BodyPreference, ...] = ()
    mime_support: int = 0  # 0 never, 1 S/MIME only, 2 always
    mime_truncation: int | None = None  # characters; None = whole
    truncation: int | None = None  # protocol 2.5 body truncation, characters
    conflict: int = 1  # 0 client wins, 1 server wins (MS-ASCMD 2.2.3.34)
    max_items: int | None = None
    classes: tuple[str, ...] = field(default=())

    def cutoff(self, moment: datetime | None = None) -> datetime | None:
        """Items received before this are outside the FilterType window."""
        days = FILTER_DAYS.get(self.filter_type)
        if days is None:
            return None
        return (moment or datetime.now(timezone.utc)) - timedelta(days=days)

    def preference(self, wanted: int) -> BodyPreference | None:
        return next((p for p in self.body_preferences if p.type == wanted), None)


def _int(el: etree._Element | None, name: str, low: int, high: int) -> int | None:
    if el is None:
        return None
    text = (el.text or "").strip()
    if not text.lstrip("-").isdigit() or not low <= int(text) <= high:
        raise OptionsError(f"{name} {text!r} is not a number from {low} to {high}")
    return int(text)


def parse_options(options: list[etree._Element]) -> ItemOptions:
    """Merge the Options elements of one collection (14.0 allows one per Class)."""
    values: dict = {}
    preferences: list[BodyPreference] = []
    classes: list[str] = []
    for opt in options:
        cls = opt.find(f"{AS}Class")
        if cls is not None and cls.text:
            classes.append(cls.text)
        filter_type = _int(opt.find(f"{AS}FilterType"), "FilterType", 0, 8)
        if filter_type is not None:
            values["filter_type"] = filter_type
        for name, key, high in (("MIMESupport", "mime_support", 2), ("Conflict", "conflict", 1),
                                ("MaxItems", "max_items", 2**31 - 1)):
            value = _int(opt.find(f"{AS}{name}"), name, 0, high)
            if value is not None:
                values[key] = value
        for name, key in (("MIMETruncation", "mime_truncation"), ("Truncation", "truncation")):
            code = _int(opt.find(f"{AS}{name}"), name, 0, 9)
            if code is not None:
                values[key] = TRUNCATION_SIZES.get(code)
        for pref in opt.findall(f"{ASB}BodyPreference"):
            body_type = _int(pref.find(f"{ASB}Type"), "BodyPreference Type", 1, 4)
            if body_type is None:
                raise OptionsError("BodyPreference without Type")
            all_or_none = _int(pref.find(f"{ASB}AllOrNone"), "AllOrNone", 0, 1)
            preferences.append(BodyPreference(
                body_type,
                _int(pref.find(f"{ASB}TruncationSize"), "TruncationSize", 0, 2**32 - 1),
                bool(all_or_none),
                _int(pref.find(f"{ASB}Preview"), "Preview", 0, 255),
            ))
    return ItemOptions(body_preferences=tuple(preferences), classes=tuple(classes), **values)
