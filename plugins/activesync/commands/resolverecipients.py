"""ResolveRecipients (MS-ASCMD 2.2.1.15): names to addresses, from the GAL and the user's contacts.

For each ``To``: a GAL entry whose address, alias or display name is given
in full resolves it; otherwise GAL entries (Type 1) and contacts (Type 2)
whose names or addresses begin with it (ambiguous name resolution) are
suggestions. Response statuses (2.2.3.177.12): 1 resolved, 2 ambiguous with
suggestions, 3 ambiguous with only part of the suggestions (over
``MaxAmbiguousRecipients``), 4 not resolved; the command's own Status is 1,
or 5 for a protocol error (no To, a bad Availability window).

Options: ``CertificateRetrieval`` 2 or 3 asks for S/MIME certificates; the
lab directory has none, so each recipient says Certificates Status 7 (no
valid certificate) with a count of 0. ``Availability`` (14.0+) gives
MergedFreeBusy for lab mailboxes from their Calendar (one digit per 30
minutes: 0 free, 1 tentative, 2 busy, 3 away, 4 no data), Status 162 where
no calendar can be read (contacts, other organisations). A requested
``Picture`` (14.1+) is Status 173, no picture.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import getaddresses

from lxml import etree

from plugins.activesync import gal, items
from plugins.activesync.backend import ItemNotFound
from plugins.activesync.context import CommandContext
from plugins.activesync.items.values import parse_datetime
from plugins.activesync.personas import V14_0, V14_1
from plugins.activesync.wbxml import element

NAME = "ResolveRecipients"
ROOT = "ResolveRecipients:ResolveRecipients"
RR = "{ResolveRecipients}"
RESOLVED, AMBIGUOUS, AMBIGUOUS_PARTIAL, UNRESOLVED, PROTOCOL_ERROR = 1, 2, 3, 4, 5
GAL_TYPE, CONTACT_TYPE = 1, 2
MAX_AMBIGUOUS = 100  # suggestions per To when the device sets no MaxAmbiguousRecipients, and at most
SLOT = timedelta(minutes=30)
MAX_WINDOW = timedelta(days=42)  # Exchange 2010 and later (MS-ASCMD product behaviour note)
DEFAULT_WINDOW = timedelta(days=7)
NO_CERTIFICATE, FREE_BUSY_UNAVAILABLE, NO_PICTURE = 7, 162, 173


@dataclass(frozen=True)
class Candidate:
    type: int
    display_name: str
    email_address: str


class _Invalid(Exception):
    pass


def _int_option(options: etree._Element | None, name: str, default: int, low: int, high: int) -> int:
    text = options.findtext(f"{RR}{name}") if options is not None else None
    if text is None:
        return default
    if not text.strip().isdigit() or not low <= int(text) <= high:
        raise _Invalid(f"{name} {text!r}")
    return int(text)


def _window(options: etree._Element | None) -> tuple[datetime, datetime] | None:
    """Availability's StartTime/EndTime; EndTime defaults to seven days on (MS-ASCMD 2.2.3.61.1)."""
    availability = options.find(f"{RR}Availability") if options is not None else None
    if availability is None:
        return None
    try:
        start = parse_datetime(availability.findtext(f"{RR}StartTime") or "")
        end_text = availability.findtext(f"{RR}EndTime")
        end = parse_datetime(end_text) if end_text else start + DEFAULT_WINDOW
    except ValueError:
        raise _Invalid("Availability times") from None
    if end < start + SLOT or end - start > MAX_WINDOW:
        raise _Invalid("Availability window")
    return start, end


def _contacts(ctx: CommandContext) -> list[Candidate]:
    """Every address of every contact in the user's contact folders."""
    backend = ctx.backend
    found: list[Candidate] = []
    for folder in backend.folders():
        if items.CLASS_BY_FOLDER_TYPE.get(folder.type) != items.CONTACTS:
            continue
        for server_id in backend.list_item_ids(folder.server_id):
            try:
                props = backend.get_item(server_id).properties
            except ItemNotFound:
                continue
            name = " ".join(str(props.get(k) or "") for k in ("first_name", "last_name")).strip()
            name = name or str(props.get("file_as") or "")
            for key in ("email1_address", "email2_address", "email3_address"):
                for display, address in getaddresses([str(props.get(key) or "")]):
                    if "@" in address:
                        found.append(Candidate(CONTACT_TYPE, name or display or address, address))
    return found


def _contact_matches(candidate: Candidate, query: str) -> bool:
    wanted = query.strip().casefold()
    words = [candidate.display_name, *candidate.display_name.split(), candidate.email_address]
    return bool(wanted) and any(w.casefold().startswith(wanted) for w in words if w)


def _free_busy(ctx: CommandContext, address: str, start: datetime, end: datetime) -> etree._Element:
    periods = ctx.backend.free_busy(address, start, end)
    if periods is None:
        return element("ResolveRecipients:Availability", None,
                       element("ResolveRecipients:Status", str(FREE_BUSY_UNAVAILABLE)))
    slots = -(-int((end - start).total_seconds()) // int(SLOT.total_seconds()))
    digits = [0] * slots
    for period in periods:
        for n in range(slots):
            slot_start = start + SLOT * n
            if period.start < slot_start + SLOT and period.end > slot_start:
                # MS-ASCMD 2.2.3.107: the higher value wins a shared slot.
                digits[n] = max(digits[n], min(period.busy_status, 3))
    return element("ResolveRecipients:Availability", None, element("ResolveRecipients:Status", "1"),
                   element("ResolveRecipients:MergedFreeBusy", "".join(map(str, digits))))


def _recipient(ctx: CommandContext, candidate: Candidate, certificates: bool,
               window: tuple[datetime, datetime] | None, picture: bool) -> etree._Element:
    out = element("ResolveRecipients:Recipient", None,
                  element("ResolveRecipients:Type", str(candidate.type)),
                  element("ResolveRecipients:DisplayName", candidate.display_name),
                  element("ResolveRecipients:EmailAddress", candidate.email_address))
    if window is not None:
        out.append(_free_busy(ctx, candidate.email_address, *window) if candidate.type == GAL_TYPE else
                   element("ResolveRecipients:Availability", None,
                           element("ResolveRecipients:Status", str(FREE_BUSY_UNAVAILABLE))))
    if certificates:
        out.append(element("ResolveRecipients:Certificates", None,
                           element("ResolveRecipients:Status", str(NO_CERTIFICATE)),
                           element("ResolveRecipients:CertificateCount", "0"),
                           element("ResolveRecipients:RecipientCount", "1")))
    if picture:
        out.append(element("ResolveRecipients:Picture", None, element("ResolveRecipients:Status", str(NO_PICTURE))))
    return out


def _resolve(query: str, directory: list[gal.GalEntry], contacts: list[Candidate]) -> tuple[int, list[Candidate]]:
    def of(entry: gal.GalEntry) -> Candidate:
        return Candidate(GAL_TYPE, entry.display_name, entry.email_address)

    exact = [of(e) for e in directory if e.is_exactly(query)]
    if exact:
        return RESOLVED, exact
    known = {c.email_address.casefold() for c in contacts}
    exact_contacts = [c for c in contacts if c.email_address.casefold() == query.strip().casefold()]
    if exact_contacts:
        return RESOLVED, exact_contacts[:1]
    matches = [of(e) for e in directory if e.matches(query) and e.email_address.casefold() not in known]
    matches += [c for c in contacts if _contact_matches(c, query)]
    if not matches:
        return UNRESOLVED, []
    if len(matches) == 1:
        return RESOLVED, matches
    return AMBIGUOUS, matches


def run(ctx: CommandContext, request: etree._Element | None) -> etree._Element:
    tos = [(t.text or "").strip() for t in request.findall(f"{RR}To")] if request is not None else []
    options = request.find(f"{RR}Options") if request is not None else None
    try:
        if not tos or not all(tos):
            raise _Invalid("no To")
        retrieval = _int_option(options, "CertificateRetrieval", 1, 1, 3)
        max_ambiguous = _int_option(options, "MaxAmbiguousRecipients", MAX_AMBIGUOUS, 0, 9999)
        window = _window(options) if ctx.version >= V14_0 else None
    except _Invalid:
        ctx.usage.status = PROTOCOL_ERROR
        return element(ROOT, None, element("ResolveRecipients:Status", str(PROTOCOL_ERROR)))
    picture = ctx.version >= V14_1 and options is not None and options.find(f"{RR}Picture") is not None
    directory = gal.entries(ctx)
    contacts = _contacts(ctx)
    out = element(ROOT, None, element("ResolveRecipients:Status", "1"))
    for query in tos:
        status, found = _resolve(query, directory, contacts)
        limit = min(max_ambiguous, MAX_AMBIGUOUS)
        if status == AMBIGUOUS and len(found) > limit:
            status, found = AMBIGUOUS_PARTIAL, found[:limit]
        response = element("ResolveRecipients:Response", None, element("ResolveRecipients:To", query),
                           element("ResolveRecipients:Status", str(status)),
                           element("ResolveRecipients:RecipientCount", str(len(found))))
        for candidate in found:
            response.append(_recipient(ctx, candidate, retrieval > 1, window, picture))
        out.append(response)
    ctx.usage.status = 1
    return out
