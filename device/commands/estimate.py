"""GetItemEstimate: how many items a Sync would bring (MS-ASCMD 2.2.1.9)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from lxml import etree

from ..response import EasResponse
from ..versions import at_least
from .tree import leaf, node, number, text


@dataclass(frozen=True)
class EstimateCollection:
    collection_id: str
    sync_key: str
    item_class: str | None = None
    filter_type: int | None = None

    def element(self, version: str) -> etree._Element:
        """Up to 12.1 Class and FilterType are children of Collection; from 14.0
        they move into airsync:Options (MS-ASCMD 2.2.3.29.1, 2.2.3.125.2).
        Child order follows the element table of 2.2.3.29.1."""
        if not at_least(version, "14.0"):
            return node("GetItemEstimate:Collection",
                        leaf("GetItemEstimate:Class", self.item_class),
                        leaf("AirSync:SyncKey", self.sync_key),
                        leaf("GetItemEstimate:CollectionId", self.collection_id),
                        leaf("AirSync:FilterType", self.filter_type))
        options = None
        if self.filter_type is not None or self.item_class is not None:
            options = node("AirSync:Options", leaf("AirSync:FilterType", self.filter_type),
                           leaf("AirSync:Class", self.item_class))
        return node("GetItemEstimate:Collection",
                    leaf("AirSync:SyncKey", self.sync_key),
                    leaf("GetItemEstimate:CollectionId", self.collection_id),
                    options)


def build_get_item_estimate(version: str, collections: Sequence[EstimateCollection]) -> etree._Element:
    return node("GetItemEstimate:GetItemEstimate",
                node("GetItemEstimate:Collections", *(c.element(version) for c in collections)))


@dataclass
class Estimate:
    collection_id: str | None
    status: int | None
    estimate: int | None


@dataclass
class EstimateReply:
    estimates: list[Estimate] = field(default_factory=list)
    response: EasResponse | None = field(default=None, repr=False)

    def estimate(self, collection_id: str) -> Estimate | None:
        return next((e for e in self.estimates if e.collection_id == collection_id), None)


def read_get_item_estimate(root: etree._Element | None) -> EstimateReply:
    """One Estimate per Response element (each carries its own Status)."""
    if root is None:
        return EstimateReply()
    found = []
    for response in root.iterfind("{GetItemEstimate}Response"):
        collection = response.find("{GetItemEstimate}Collection")
        found.append(Estimate(collection_id=text(collection, "GetItemEstimate:CollectionId"),
                              status=number(response, "GetItemEstimate:Status"),
                              estimate=number(collection, "GetItemEstimate:Estimate")))
    return EstimateReply(found)
