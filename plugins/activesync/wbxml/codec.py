"""WBXML 1.3 <-> lxml for Exchange ActiveSync (MS-ASWBXML).

EAS uses only a slice of WBXML (MS-ASWBXML 2.1.3): tag tokens in code
pages, SWITCH_PAGE, END, inline strings (STR_I) and opaque data (OPAQUE).
The decoder also reads STR_T references into a string table, because WBXML
allows them and reading them costs little; the encoder never writes a string
table. Attributes, entities, processing instructions and extension tokens
have no meaning in EAS, so both directions reject them with a WbxmlError.

Opaque data lives in the tree, not beside it, so it survives copies and
serialisation: an element whose content is OPAQUE carries the marker
attribute ``{urn:easlab:wbxml}opaque="base64"`` and its bytes, base64
encoded, as text. ``opaque_bytes()``/``set_opaque()`` read and write it;
``element(tag, b"...")`` builds one. The encoder turns such an element back
into OPAQUE, so ``encode(decode(b))`` round-trips opaque content exactly.

Every decoding failure, whatever the input, is a WbxmlError that names the
byte offset and what was expected there.
"""

from __future__ import annotations

import base64
import binascii

from lxml import etree

from .codepages import CODE_PAGES, NAMESPACES, PAGE_BY_NAMESPACE, TAG_BY_CLARK, TAG_BY_TOKEN

WBXML_VERSION = 0x03  # WBXML 1.3, as in the MS-ASWBXML 3 example
PUBLIC_ID_UNKNOWN = 0x01
CHARSET_UTF8 = 106  # IANA MIBenum

#: Hostile-input guards: nesting depth, element count, input size.
MAX_DEPTH = 100
MAX_ELEMENTS = 250_000
MAX_SIZE = 64 * 1024 * 1024

#: The namespace of the opaque marker attribute (not an EAS namespace).
WBXML_NS = "urn:easlab:wbxml"
OPAQUE_MARKER = f"{{{WBXML_NS}}}opaque"

# Global tokens, WBXML 1.3 section 7.1 (MS-ASWBXML 1.6).
SWITCH_PAGE, END, ENTITY, STR_I, LITERAL = 0x00, 0x01, 0x02, 0x03, 0x04
PI, LITERAL_C = 0x43, 0x44
STR_T, LITERAL_A = 0x83, 0x84
OPAQUE, LITERAL_AC = 0xC3, 0xC4
_GLOBAL_NAMES = {
    ENTITY: "ENTITY", LITERAL: "LITERAL", 0x40: "EXT_I_0", 0x41: "EXT_I_1",
    0x42: "EXT_I_2", PI: "PI", LITERAL_C: "LITERAL_C", 0x80: "EXT_T_0",
    0x81: "EXT_T_1", 0x82: "EXT_T_2", LITERAL_A: "LITERAL_A", 0xC0: "EXT_0",
    0xC1: "EXT_1", 0xC2: "EXT_2", LITERAL_AC: "LITERAL_AC",
}
_CONTENT = 0x40
_ATTRIBUTES = 0x80

# [page][token] -> Clark name, for the decoder's hot loop.
_DECODE_TABLE: tuple[tuple[str | None, ...], ...] = tuple(
    tuple(tag.clark if (tag := TAG_BY_TOKEN.get((page.number, token))) else None
          for token in range(64))
    for page in CODE_PAGES
)
_PAGE_NAMES = tuple(page.namespace for page in CODE_PAGES)


class WbxmlError(ValueError):
    """A body that is not EAS WBXML, or a tree that has no EAS WBXML form.

    ``offset`` is the byte offset in the input where decoding failed (None
    for encoding errors, which name the tag instead).
    """

    def __init__(self, reason: str, offset: int | None = None) -> None:
        self.reason = reason
        self.offset = offset
        super().__init__(reason if offset is None else f"at byte {offset} (0x{offset:02X}): {reason}")


# ---------------------------------------------------------------- decoding


def decode(data: bytes, *, max_depth: int = MAX_DEPTH,
           max_elements: int = MAX_ELEMENTS, max_size: int = MAX_SIZE) -> etree._Element:
    """Decode an EAS WBXML body into its root element."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"decode() needs bytes, not {type(data).__name__}")
    data = bytes(data)
    if len(data) > max_size:
        raise WbxmlError(f"body of {len(data)} bytes is over the {max_size}-byte limit", 0)
    return _Decoder(data, max_depth, max_elements).run()


def to_xml(data: bytes) -> str:
    """Pretty XML of a WBXML body, for the mailbox log and debugging.

    Opaque content shows as base64 text on an element marked
    ``wbxml:opaque="base64"``.
    """
    return etree.tostring(decode(data), pretty_print=True, encoding="unicode")


class _Decoder:
    """One pass over one body; state kept on the instance for error offsets."""

    def __init__(self, data: bytes, max_depth: int, max_elements: int) -> None:
        self.data = data
        self.max_depth = max_depth
        self.max_elements = max_elements
        self.strtbl = b""

    def byte(self, pos: int, what: str) -> int:
        if pos >= len(self.data):
            raise WbxmlError(f"truncated input: expected {what}", pos)
        return self.data[pos]

    def mb_u_int32(self, pos: int, what: str) -> tuple[int, int]:
        """WBXML 1.3 section 5.1: 7 bits a byte, high bit = more follow."""
        start, value = pos, 0
        for _ in range(5):
            b = self.byte(pos, f"{what} (mb_u_int32)")
            pos += 1
            value = (value << 7) | (b & 0x7F)
            if not b & 0x80:
                if value > 0xFFFFFFFF:
                    raise WbxmlError(f"{what} (mb_u_int32) overflows 32 bits", start)
                return value, pos
        raise WbxmlError(f"{what} (mb_u_int32) runs over 5 bytes", start)

    def utf8(self, raw: bytes, offset: int) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WbxmlError(f"invalid UTF-8 in a string: {exc.reason}", offset + exc.start) from None

    def header(self) -> int:
        """Read version, public id, charset and string table; return the body offset."""
        version = self.byte(0, "the WBXML version byte")
        # WBXML 1.1-1.3 share the token grammar EAS uses; 1.0 (0x00) does not.
        if version not in (0x01, 0x02, 0x03):
            raise WbxmlError(f"expected WBXML version 0x03 (1.3), got 0x{version:02X}", 0)
        # EAS sends 0x01 (unknown); the code pages, not a DTD, name the tags,
        # so any public identifier is accepted.
        public_id, pos = self.mb_u_int32(1, "the public identifier")
        if public_id == 0:  # WBXML 1.3 section 5.5: an index into the string table
            _, pos = self.mb_u_int32(pos, "the public identifier's string table index")
        charset_at = pos
        charset, pos = self.mb_u_int32(pos, "the charset")
        if charset != CHARSET_UTF8:
            raise WbxmlError(f"expected charset 106 (UTF-8), got MIBenum {charset}", charset_at)
        length, pos = self.mb_u_int32(pos, "the string table length")
        if length > len(self.data) - pos:
            raise WbxmlError(f"truncated input: string table of {length} bytes "
                            f"but only {len(self.data) - pos} left", pos)
        self.strtbl = self.data[pos:pos + length]
        return pos + length

    def table_string(self, index: int, offset: int) -> str:
        end = self.strtbl.find(b"\x00", index)
        if index >= len(self.strtbl) or end < 0:
            raise WbxmlError(f"STR_T offset {index} is outside the {len(self.strtbl)}-byte "
                            "string table or has no terminator", offset)
        return self.utf8(self.strtbl[index:end], offset)

    def run(self) -> etree._Element:
        data, size = self.data, len(self.data)
        pos = self.header()
        page = 0
        root: etree._Element | None = None
        stack: list[_Open] = []
        count = 0
        while pos < size:
            tok = data[pos]
            if root is not None and not stack:
                raise WbxmlError(f"content after the root element (token 0x{tok:02X})", pos)
            if tok == END:
                if not stack:
                    raise WbxmlError("END without an open element", pos)
                stack.pop().flush()
                pos += 1
            elif tok == STR_I:
                end = data.find(b"\x00", pos + 1)
                if end < 0:
                    raise WbxmlError("truncated input: inline string (STR_I) "
                                     "has no 0x00 terminator", pos)
                self.add_text(stack, self.utf8(data[pos + 1:end], pos + 1), pos)
                pos = end + 1
            elif tok == SWITCH_PAGE:
                page = self.byte(pos + 1, "a code page number after SWITCH_PAGE")
                if page >= len(CODE_PAGES):
                    raise WbxmlError(f"unknown code page {page} "
                                     f"(EAS defines 0-{len(CODE_PAGES) - 1})", pos + 1)
                pos += 2
            elif tok == OPAQUE:
                length, start = self.mb_u_int32(pos + 1, "the OPAQUE length")
                if length > size - start:
                    raise WbxmlError(f"truncated input: OPAQUE of {length} bytes but only "
                                    f"{size - start} left", pos)
                self.add_opaque(stack, data[start:start + length], pos)
                pos = start + length
            elif tok == STR_T:
                index, nxt = self.mb_u_int32(pos + 1, "the STR_T string table offset")
                self.add_text(stack, self.table_string(index, pos), pos)
                pos = nxt
            elif tok in _GLOBAL_NAMES:
                raise WbxmlError(f"{_GLOBAL_NAMES[tok]} is not used by EAS (MS-ASWBXML 2.1.3)", pos)
            elif tok & _ATTRIBUTES:
                raise WbxmlError(f"tag token 0x{tok:02X} announces attributes, "
                                "which EAS does not use (MS-ASWBXML 2.1.3)", pos)
            else:
                clark = _DECODE_TABLE[page][tok & 0x3F]
                if clark is None:
                    raise WbxmlError(f"unknown tag token 0x{tok & 0x3F:02X} in code page "
                                    f"{page} ({_PAGE_NAMES[page]})", pos)
                if len(stack) >= self.max_depth:
                    raise WbxmlError(f"elements nested deeper than {self.max_depth}", pos)
                count += 1
                if count > self.max_elements:
                    raise WbxmlError(f"more than {self.max_elements} elements", pos)
                if root is None:
                    el = root = etree.Element(clark, nsmap=_nsmap_for_root(clark))
                else:
                    el = self.add_child(stack, clark, pos)
                if tok & _CONTENT:
                    stack.append(_Open(el))
                pos += 1
        if root is None:
            raise WbxmlError("missing root element: the body has no tag", pos)
        if stack:
            raise WbxmlError(f"truncated input: expected END of <{_local(stack[-1].element)}>", pos)
        etree.cleanup_namespaces(root)
        return root

    def add_text(self, stack: list[_Open], text: str, offset: int) -> None:
        if not stack:
            raise WbxmlError("text outside the root element", offset)
        top = stack[-1]
        if top.opaque:
            raise WbxmlError(f"text after OPAQUE in <{_local(top.element)}>", offset)
        if not top.pieces:
            top.text_at = offset
        top.pieces.append(text)

    def add_child(self, stack: list[_Open], clark: str, offset: int) -> etree._Element:
        top = stack[-1]
        if top.opaque:
            raise WbxmlError(f"element after OPAQUE in <{_local(top.element)}>", offset)
        top.flush()
        top.last_child = etree.SubElement(top.element, clark)
        return top.last_child

    def add_opaque(self, stack: list[_Open], raw: bytes, offset: int) -> None:
        if not stack:
            raise WbxmlError("OPAQUE outside the root element", offset)
        top = stack[-1]
        if top.pieces or top.last_child is not None or top.opaque:
            raise WbxmlError(f"OPAQUE must be the only content of <{_local(top.element)}>", offset)
        set_opaque(top.element, raw)
        top.opaque = True


class _Open:
    """An element whose END has not come yet.

    Text arrives in pieces (STR_I, STR_T) and is joined once, when a child
    starts or the element ends, so a run of many strings stays linear. It
    lands in the element's text, or in the tail of its last child.
    """

    __slots__ = ("element", "pieces", "text_at", "last_child", "opaque")

    def __init__(self, element: etree._Element) -> None:
        self.element = element
        self.pieces: list[str] = []
        self.text_at = 0
        self.last_child: etree._Element | None = None
        self.opaque = False

    def flush(self) -> None:
        if not self.pieces:
            return
        text = "".join(self.pieces)
        self.pieces = []
        if not text:  # an empty STR_I adds nothing: <X/> and <X></X> are one element
            return
        try:
            if self.last_child is None:
                self.element.text = text
            else:
                self.last_child.tail = text
        except ValueError:
            raise WbxmlError("string holds a character XML 1.0 cannot carry "
                             "(a control character or U+FFFE/U+FFFF)", self.text_at) from None


def _nsmap_for_root(clark: str) -> dict[str | None, str]:
    """Root's namespace as default, the others as their usual prefixes.

    Children then reuse these declarations; unused ones are dropped after
    decoding, so ``to_xml`` looks like the MS-ASCMD examples.
    """
    ns = clark[1:clark.index("}")]
    nsmap: dict[str | None, str] = {p: uri for p, uri in NAMESPACES.items() if uri != ns}
    nsmap[None] = ns
    nsmap["wbxml"] = WBXML_NS
    return nsmap


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname


# ---------------------------------------------------------------- encoding


def encode(root: etree._Element) -> bytes:
    """Encode a tree of EAS elements as a WBXML 1.3 body.

    The encoder is canonical: SWITCH_PAGE only when the page changes (the
    body starts on page 0), the content flag only on elements with content,
    strings inline, no string table.
    """
    out = bytearray((WBXML_VERSION, PUBLIC_ID_UNKNOWN, CHARSET_UTF8, 0x00))
    page = 0
    for event, el in etree.iterwalk(root, events=("start", "end", "comment", "pi")):
        if event in ("comment", "pi"):
            raise WbxmlError(f"{el!r}: comments and processing instructions "
                             "have no WBXML form in EAS (MS-ASWBXML 2.1.3)")
        if event == "start":
            page = _encode_start(el, page, out)
            continue
        if _has_content(el):
            out.append(END)
        if el is not root and el.tail:
            _encode_string(el.tail, out)
    return bytes(out)


def _encode_start(el: etree._Element, page: int, out: bytearray) -> int:
    if not isinstance(el.tag, str):  # iterwalk reports entity references as elements
        raise WbxmlError(f"{el!r}: entity references have no WBXML form in EAS (MS-ASWBXML 2.1.3)")
    tag = TAG_BY_CLARK.get(el.tag)
    if tag is None:
        raise WbxmlError(_unknown_tag_reason(el.tag))
    for name in el.attrib:
        if name != OPAQUE_MARKER:
            raise WbxmlError(f"<{tag.name}> has attribute {name!r}; EAS WBXML has no attributes")
    if tag.page != page:
        out += bytes((SWITCH_PAGE, tag.page))
        page = tag.page
    data = opaque_bytes(el)
    if data is not None:
        if len(el):
            raise WbxmlError(f"opaque <{tag.name}> cannot also have child elements")
        out.append(tag.token | _CONTENT)
        out.append(OPAQUE)
        out += _mb_u_int32(len(data))
        out += data
    elif tag.byte_array and el.text:
        raise WbxmlError(f"<{tag.name}> is a byte array and must be sent as OPAQUE "
                         "(MS-ASDTYPE 2.7.1): give it bytes, e.g. element(tag, b'...')")
    elif _has_content(el):
        out.append(tag.token | _CONTENT)
        if el.text:
            _encode_string(el.text, out)
    else:
        out.append(tag.token)
    return page


def _has_content(el: etree._Element) -> bool:
    return bool(el.text) or len(el) > 0 or el.get(OPAQUE_MARKER) is not None


def _encode_string(text: str, out: bytearray) -> None:
    out.append(STR_I)
    out += text.encode("utf-8")
    out.append(0x00)


def _mb_u_int32(value: int) -> bytes:
    """WBXML 1.3 section 5.1: big-endian groups of 7 bits, high bit = more."""
    groups = [value & 0x7F]
    value >>= 7
    while value:
        groups.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(groups))


def _unknown_tag_reason(clark: str) -> str:
    if not clark.startswith("{"):
        return (f"<{clark}> has no namespace; EAS tags live in a code page namespace, "
                f"e.g. {{AirSync}}{clark}")
    ns, local = clark[1:].split("}", 1)
    if ns not in PAGE_BY_NAMESPACE:
        return f"<{local}> is in namespace {ns!r}, which is no EAS code page"
    return f"<{local}> is not a tag of code page {PAGE_BY_NAMESPACE[ns]} ({ns})"


# ---------------------------------------------------------------- building


def opaque_bytes(el: etree._Element) -> bytes | None:
    """The bytes of an opaque element, or None if its content is not opaque."""
    marker = el.get(OPAQUE_MARKER)
    if marker is None:
        return None
    if marker != "base64":
        raise WbxmlError(f"<{_local(el)}> has opaque marker {marker!r}; only 'base64' is defined")
    try:
        return base64.b64decode(el.text or "", validate=True)
    except binascii.Error as exc:
        raise WbxmlError(f"opaque <{_local(el)}> does not hold base64 text: {exc}") from None


def set_opaque(el: etree._Element, data: bytes) -> None:
    """Make ``data`` the content of ``el``, to be encoded as OPAQUE."""
    el.set(OPAQUE_MARKER, "base64")
    el.text = base64.b64encode(data).decode("ascii")


def element(ns_tag: str, text: str | bytes | None = None,
            *children: etree._Element) -> etree._Element:
    """Build an EAS element: ``element("AirSync:SyncKey", "0")``.

    ``ns_tag`` is ``Namespace:Tag`` with the code page name or its prefix
    (``AirSyncBase:Data``, ``airsyncbase:Data``) or Clark notation. Bytes
    become opaque content. An unknown tag fails here, naming it.
    """
    clark = _clark(ns_tag)
    ns = clark[1:clark.index("}")]
    el = etree.Element(clark, nsmap={None: ns})
    if isinstance(text, (bytes, bytearray)):
        set_opaque(el, bytes(text))
    else:
        el.text = text
    el.extend(children)
    return el


def _clark(ns_tag: str) -> str:
    clark = ns_tag
    if not ns_tag.startswith("{") and ":" in ns_tag:
        ns, _, local = ns_tag.rpartition(":")
        clark = f"{{{NAMESPACES.get(ns, ns)}}}{local}"
    if clark not in TAG_BY_CLARK:
        raise WbxmlError(_unknown_tag_reason(clark))
    return clark
