"""The MS-ASWBXML codec: EAS WBXML bodies to lxml trees and back."""

from __future__ import annotations

from .codec import (
    OPAQUE_MARKER,
    WbxmlError,
    decode,
    element,
    encode,
    opaque_bytes,
    set_opaque,
    to_xml,
)
from .codepages import CODE_PAGES, NAMESPACES, PROTOCOL_VERSIONS, Tag

__all__ = [
    "CODE_PAGES",
    "NAMESPACES",
    "OPAQUE_MARKER",
    "PROTOCOL_VERSIONS",
    "Tag",
    "WbxmlError",
    "decode",
    "element",
    "encode",
    "opaque_bytes",
    "set_opaque",
    "to_xml",
]
