"""GetItemEstimate counts what the next Sync sends: new mail, and what a FilterType brings in or takes away.

MS-ASCMD 2.2.1.9 and 2.2.3.65: the estimate is of "items ... that have to be
synchronized". A device that asks before it widens or narrows its window,
or after mail aged out of it, must be told what that Sync will do, not the
count of new mail alone. Both backends: the store directly (Exchange 2016)
and the WebDAV hop (Exchange 2003).
"""
from __future__ import annotations

from datetime import timedelta

from plugins.activesync.commands import sync

from .easclient import el
from .test_sync_filtertype import BOTH, NO_FILTER, ONE_DAY, ONE_MONTH, THREE_DAYS, Phone, _folder, _mail


def _estimate(phone: Phone, filter_type: str | None = None) -> int:
    """The phone's GetItemEstimate for its folder, with this FilterType (None: none given)."""
    collection = [el("AirSync:SyncKey", phone.key), el("GetItemEstimate:CollectionId", phone.folder)]
    if filter_type is not None:
        if phone.device.version.startswith(("2.", "12.")):  # before 14.0: in the Collection itself
            collection.insert(0, el("AirSync:FilterType", filter_type))
            collection.insert(0, el("GetItemEstimate:Class", phone.klass))
        else:
            collection.append(el("AirSync:Options", None, el("AirSync:FilterType", filter_type)))
    elif phone.device.version.startswith(("2.", "12.")):
        collection.insert(0, el("GetItemEstimate:Class", phone.klass))
    answer = phone.device.post("GetItemEstimate", el("GetItemEstimate:GetItemEstimate", None, el(
        "GetItemEstimate:Collections", None, el("GetItemEstimate:Collection", None, *collection))))
    assert answer.text("gie:Response/gie:Status") == "1"
    return int(answer.text("gie:Response/gie:Collection/gie:Estimate"))


@BOTH
def test_the_estimate_counts_what_a_new_filter_type_brings_and_takes(eas_lab, persona):
    lab = eas_lab(persona)
    folder = _folder(lab)
    _mail(lab, folder, today=0.1, d2=2, d10=10, d60=60)
    phone = Phone(lab, persona, folder)
    assert _estimate(phone, THREE_DAYS) == 2  # not primed yet: the window's mail
    assert phone.sync(THREE_DAYS).added == ["today", "d2"]
    assert _estimate(phone) == 0  # the window it was synced with: nothing to do

    assert _estimate(phone, ONE_MONTH) == 1  # d10 would come in
    assert _estimate(phone, NO_FILTER) == 2  # d10 and d60
    assert _estimate(phone, ONE_DAY) == 1  # d2 would be soft-deleted
    assert _estimate(phone) == 0  # asking changed nothing
    assert len(phone.sync(ONE_DAY).soft_deleted) == 1


@BOTH
def test_the_estimate_counts_mail_that_aged_out_of_the_window(eas_lab, persona, monkeypatch):
    lab = eas_lab(persona)
    folder = _folder(lab)
    _mail(lab, folder, fresh=0.5, almost=3 - 1 / 24)
    phone = Phone(lab, persona, folder)
    phone.sync(THREE_DAYS)
    _mail(lab, folder, new=0)
    assert _estimate(phone) == 1

    later = sync.now() + timedelta(hours=2)
    monkeypatch.setattr(sync, "now", lambda: later)  # "almost" is now older than the window
    assert _estimate(phone) == 2  # the new mail and the SoftDelete
    seen = phone.sync()
    assert seen.added == ["new"] and seen.soft_deleted == ["almost"]
