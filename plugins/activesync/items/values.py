"""MS-ASDTYPE values: the two dateTime spellings, booleans and integers as EAS writes them."""
from __future__ import annotations

from datetime import datetime, timezone


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def eas_datetime(moment: datetime) -> str:
    """MS-ASDTYPE 2.3: ``2009-11-12T09:14:00.000Z``."""
    moment = _utc(moment)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def compact_datetime(moment: datetime) -> str:
    """The compact form the Calendar class uses: ``20091112T091400Z``."""
    return _utc(moment).strftime("%Y%m%dT%H%M%SZ")


def parse_datetime(text: str) -> datetime:
    """Either spelling (and plain ISO 8601) to an aware UTC datetime."""
    text = text.strip()
    for pattern in ("%Y%m%dT%H%M%SZ", "%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    return _utc(datetime.fromisoformat(text))
