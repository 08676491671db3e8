"""Search (GAL, Mailbox) and ResolveRecipients (MS-ASCMD 2.2.1.16, 2.2.1.15)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from lxml import etree

from ..response import EasResponse
from .tree import children, clark, flag, leaf, node, number, text


def build_search_gal(query: str, range_: str = "0-99") -> etree._Element:
    """Store: Name, Query, Options (MS-ASCMD 2.2.3.178.3)."""
    return node("Search:Search", node("Search:Store", leaf("Search:Name", "GAL"), leaf("Search:Query", query),
                                      node("Search:Options", leaf("Search:Range", range_))))


def build_search_mailbox(query: str, *, collection_id: str | None = None, item_class: str = "Email",
                         range_: str = "0-9", deep_traversal: bool = False, rebuild_results: bool = False,
                         body_type: int | None = None, truncation_size: int | None = None) -> etree._Element:
    """A free-text search, ANDed with the class and optionally one folder."""
    preference = None
    if body_type is not None:
        preference = node("AirSyncBase:BodyPreference", leaf("AirSyncBase:Type", body_type),
                          leaf("AirSyncBase:TruncationSize", truncation_size))
    condition = node("Search:And", leaf("AirSync:Class", item_class), leaf("AirSync:CollectionId", collection_id),
                     leaf("Search:FreeText", query))
    options = node("Search:Options", flag("Search:RebuildResults", rebuild_results),
                   flag("Search:DeepTraversal", deep_traversal), leaf("Search:Range", range_), preference)
    return node("Search:Search", node("Search:Store", leaf("Search:Name", "Mailbox"),
                                      node("Search:Query", condition), options))


@dataclass
class SearchResult:
    item_class: str | None
    long_id: str | None
    collection_id: str | None
    properties: etree._Element | None

    def field(self, ns_tag: str) -> str | None:
        """e.g. ``result.field("Gal:EmailAddress")`` or ``result.field("Email:Subject")``."""
        return text(self.properties, ns_tag)


@dataclass
class SearchReply:
    status: int | None
    store_status: int | None
    total: int | None
    range: str | None
    results: list[SearchResult] = field(default_factory=list)
    response: EasResponse | None = field(default=None, repr=False)


def read_search(root: etree._Element | None) -> SearchReply:
    store = None if root is None else root.find("{Search}Response/{Search}Store")
    results = [SearchResult(item_class=text(r, "AirSync:Class"), long_id=text(r, "Search:LongId"),
                            collection_id=text(r, "AirSync:CollectionId"), properties=r.find(clark("Search:Properties")))
               for r in children(store, "Search:Result") if len(r)]
    return SearchReply(status=number(root, "Search:Status"), store_status=number(store, "Search:Status"),
                       total=number(store, "Search:Total"), range=text(store, "Search:Range"), results=results)


def build_resolve_recipients(to: Sequence[str], *, certificate_retrieval: int | None = None,
                             max_ambiguous_recipients: int | None = None,
                             availability: tuple[str, str] | None = None) -> etree._Element:
    """To elements, then Options: CertificateRetrieval, MaxAmbiguousRecipients, Availability."""
    free_busy = None
    if availability is not None:
        free_busy = node("ResolveRecipients:Availability", leaf("ResolveRecipients:StartTime", availability[0]),
                         leaf("ResolveRecipients:EndTime", availability[1]))
    options = node("ResolveRecipients:Options",
                   leaf("ResolveRecipients:CertificateRetrieval", certificate_retrieval),
                   leaf("ResolveRecipients:MaxAmbiguousRecipients", max_ambiguous_recipients), free_busy)
    return node("ResolveRecipients:ResolveRecipients", *(leaf("ResolveRecipients:To", t) for t in to),
                options if len(options) else None)


@dataclass
class Recipient:
    type: int | None
    display_name: str | None
    email_address: str | None


@dataclass
class Resolution:
    to: str | None
    status: int | None
    recipients: list[Recipient] = field(default_factory=list)


@dataclass
class ResolveRecipientsReply:
    status: int | None
    resolutions: list[Resolution] = field(default_factory=list)
    response: EasResponse | None = field(default=None, repr=False)


def read_resolve_recipients(root: etree._Element | None) -> ResolveRecipientsReply:
    if root is None:
        return ResolveRecipientsReply(status=None)
    return ResolveRecipientsReply(number(root, "ResolveRecipients:Status"), [Resolution(to=text(r, "ResolveRecipients:To"), status=number(r, "ResolveRecipients:Status"),
                       recipients=[Recipient(number(p, "ResolveRecipients:Type"),
                                             text(p, "ResolveRecipients:DisplayName"),
                                             text(p, "ResolveRecipients:EmailAddress"))
                                   for p in children(r, "ResolveRecipients:Recipient")])
            for r in root.iterfind("{ResolveRecipients}Response")])
