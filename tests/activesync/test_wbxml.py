"""The MS-ASWBXML codec against bytes worked out by hand from the specs,
its error messages, and property tests over generated documents."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from plugins.activesync.wbxml import (
    CODE_PAGES,
    NAMESPACES,
    WbxmlError,
    decode,
    element,
    encode,
    opaque_bytes,
    to_xml,
)
from plugins.activesync.wbxml.codepages import TAG_BY_CLARK

HEADER = bytes.fromhex("03016a00")  # WBXML 1.3, unknown public id, UTF-8, no string table


def shape(el: etree._Element, *, root: bool = True) -> tuple:
    """What a peer can tell apart: tag, text or opaque bytes, children, tails."""
    data = opaque_bytes(el)
    content = ("opaque", data) if data is not None else el.text or None
    tail = None if root else el.tail or None
    return (el.tag, content, [shape(child, root=False) for child in el], tail)


# ------------------------------------------------- bytes worked out by hand


def test_foldersync_request_with_synckey_0_matches_hand_encoding():
    # MS-ASCMD 4.4.1: the initial FolderSync request. FolderHierarchy is
    # code page 7 (SWITCH_PAGE 00 07); FolderSync is 0x16 and SyncKey 0x12,
    # each | 0x40 for "has content" (MS-ASWBXML 2.1.2.1.8).
    xml = '<FolderSync xmlns="FolderHierarchy"><SyncKey>0</SyncKey></FolderSync>'
    expected = HEADER + bytes.fromhex("0007" "56" "52" "033000" "01" "01")

    assert encode(etree.fromstring(xml)) == expected
    root = decode(expected)
    assert root.tag == "{FolderHierarchy}FolderSync"
    assert root.findtext("{FolderHierarchy}SyncKey") == "0"


def test_small_sync_request_matches_hand_encoding():
    xml = """
    <Sync xmlns="AirSync" xmlns:airsyncbase="AirSyncBase"><Collections><Collection>
      <SyncKey>1</SyncKey><CollectionId>5</CollectionId><DeletesAsMoves/><GetChanges/>
      <WindowSize>25</WindowSize>
      <Options><FilterType>3</FilterType>
        <airsyncbase:BodyPreference><airsyncbase:Type>1</airsyncbase:Type>
          <airsyncbase:TruncationSize>500</airsyncbase:TruncationSize></airsyncbase:BodyPreference>
        <MIMESupport>0</MIMESupport></Options>
    </Collection></Collections></Sync>"""
    tree = etree.fromstring(xml, etree.XMLParser(remove_blank_text=True))
    expected = HEADER + bytes.fromhex(
        "45" "5C" "4F"  # Sync, Collections, Collection (page 0, with content)
        "4B 033100 01"  # SyncKey "1"
        "52 033500 01"  # CollectionId "5"
        "1E"  # DeletesAsMoves, empty: no content flag, no END
        "13"  # GetChanges, empty
        "55 03323500 01"  # WindowSize "25"
        "57"  # Options
        "58 033300 01"  # FilterType "3"
        "0011"  # SWITCH_PAGE to 17, AirSyncBase
        "45"  # BodyPreference
        "46 033100 01"  # Type "1"
        "47 0335303000 01"  # TruncationSize "500"
        "01"  # END BodyPreference
        "0000"  # SWITCH_PAGE back to 0, AirSync
        "62 033000 01"  # MIMESupport "0"
        "01 01 01 01"  # END Options, Collection, Collections, Sync
    )

    assert encode(tree) == expected
    assert shape(decode(expected)) == shape(tree)


def test_spec_example_contact_sync_response_round_trips():
    # MS-ASWBXML 3: the byte-by-byte example of a Sync response adding a contact.
    spec_bytes = bytes.fromhex(
        "03 01 6A 00 45 5C 4F 50 03 43 6F 6E 74 61 63 74 73 00 01 4B 03 32 00 01 52 03 32 00 01"
        " 4E 03 31 00 01 56 47 4D 03 32 3A 31 00 01 5D 00 11 4A 46 03 31 00 01 4C 03 30 00 01"
        " 4D 03 31 00 01 01 00 01 5E 03 46 75 6E 6B 2C 20 44 6F 6E 00 01 5F 03 44 6F 6E 00 01"
        " 69 03 46 75 6E 6B 00 01 00 11 56 03 31 00 01 01 01 01 01 01 01"
    )

    root = decode(spec_bytes)

    add = root.find(".//{AirSync}Add")
    assert add.findtext("{AirSync}ServerId") == "2:1"
    assert add.findtext(".//{Contacts}FileAs") == "Funk, Don"
    assert add.findtext(".//{AirSyncBase}NativeBodyType") == "1"
    assert encode(root) == spec_bytes


def test_empty_elements_carry_no_content_flag():
    root = element("AirSync:Sync", None, element("AirSync:Collections"))

    assert encode(root) == HEADER + bytes.fromhex("45" "1C" "01")


def test_content_flag_without_content_decodes_as_empty_element():
    root = decode(HEADER + bytes.fromhex("45" "5C" "01" "01"))

    assert root[0].tag == "{AirSync}Collections" and len(root[0]) == 0 and not root[0].text


def test_empty_inline_string_is_the_same_as_no_content():
    # <SyncKey></SyncKey> and <SyncKey/> are one element in XML; the log
    # shows it empty and the encoder sends it without the content flag.
    root = decode(HEADER + bytes.fromhex("45" "4B 0300 01" "01"))

    assert "<SyncKey/>" in to_xml(HEADER + bytes.fromhex("45" "4B 0300 01" "01"))
    assert encode(root) == HEADER + bytes.fromhex("45" "0B" "01")


def test_string_table_references_are_read():
    # EAS sends no string table (MS-ASWBXML 2.1.3), but WBXML allows one; a
    # STR_T reference is resolved and re-encoded as an inline string.
    body = bytes.fromhex("03016a04") + b"abc\x00" + bytes.fromhex("45" "4B" "8301" "01" "01")

    root = decode(body)

    assert root.findtext("{AirSync}SyncKey") == "bc"
    assert encode(root) == HEADER + bytes.fromhex("45 4B 03626300 01 01")


# --------------------------------------------------------------- opaque


def test_bytes_become_opaque_and_come_back_as_bytes():
    mime = b"From: a@example.test\r\n\r\n\x00\xff binary"
    root = element("ComposeMail:SendMail", None,
                   element("ComposeMail:ClientId", "42"),
                   element("ComposeMail:Mime", mime))

    body = encode(root)

    assert bytes([0x50, 0xC3, len(mime)]) + mime + b"\x01" in body  # Mime, OPAQUE, length
    assert opaque_bytes(decode(body).find("{ComposeMail}Mime")) == mime


def test_opaque_length_uses_multibyte_integer():
    data = bytes(300)  # 300 = 0b10_0101100 -> 0x82 0x2C
    body = encode(element("AirSyncBase:Data", data))

    assert body == HEADER + bytes.fromhex("00114B" "C3822C") + data + b"\x01"


def test_to_xml_marks_opaque_content_as_base64():
    body = encode(element("ComposeMail:SendMail", None, element("ComposeMail:Mime", b"\x00\x01MIME")))

    xml = to_xml(body)

    assert 'wbxml:opaque="base64"' in xml
    assert base64.b64encode(b"\x00\x01MIME").decode() in xml
    assert xml.startswith('<SendMail xmlns="ComposeMail"')


def test_byte_array_elements_refuse_text():
    # MS-ASDTYPE 2.7.1: byte arrays MUST travel as opaque data.
    root = element("Email2:ConversationId")
    root.text = "not bytes"

    with pytest.raises(WbxmlError, match=r"<ConversationId> is a byte array and must be sent as OPAQUE"):
        encode(root)


# ---------------------------------------------------------- decode errors


@pytest.mark.parametrize(("body", "message"), [
    (HEADER, "at byte 4 (0x04): missing root element: the body has no tag"),
    (HEADER + bytes.fromhex("45 4B"), "at byte 6 (0x06): truncated input: expected END of <SyncKey>"),
    (HEADER + bytes.fromhex("45 7F"), "at byte 5 (0x05): unknown tag token 0x3F in code page 0 (AirSync)"),
    (HEADER + bytes.fromhex("00 1A 45"), "at byte 5 (0x05): unknown code page 26 (EAS defines 0-25)"),
    (HEADER + bytes.fromhex("45 C3 FFFFFFFFFF 01"),
     "at byte 6 (0x06): the OPAQUE length (mb_u_int32) runs over 5 bytes"),
    (HEADER + bytes.fromhex("45 C3 9FFFFFFF7F"),
     "at byte 6 (0x06): the OPAQUE length (mb_u_int32) overflows 32 bits"),
    (HEADER + bytes.fromhex("45 C3 05 6162"),
     "at byte 5 (0x05): truncated input: OPAQUE of 5 bytes but only 2 left"),
    (HEADER + bytes.fromhex("45 4B 03 61FF62 00 01 01"),
     "at byte 8 (0x08): invalid UTF-8 in a string: invalid start byte"),
    (HEADER + bytes.fromhex("45 4B 03 6162"),
     "at byte 6 (0x06): truncated input: inline string (STR_I) has no 0x00 terminator"),
    (HEADER + bytes.fromhex("01"), "at byte 4 (0x04): END without an open element"),
    (HEADER + bytes.fromhex("45 01 01"), "at byte 6 (0x06): content after the root element (token 0x01)"),
    (HEADER + bytes.fromhex("05 05"), "at byte 5 (0x05): content after the root element (token 0x05)"),
    (HEADER + bytes.fromhex("45 C5"),
     "at byte 5 (0x05): tag token 0xC5 announces attributes, which EAS does not use (MS-ASWBXML 2.1.3)"),
    (HEADER + bytes.fromhex("45 04 00"), "at byte 5 (0x05): LITERAL is not used by EAS (MS-ASWBXML 2.1.3)"),
    (HEADER + bytes.fromhex("45 02 41"), "at byte 5 (0x05): ENTITY is not used by EAS (MS-ASWBXML 2.1.3)"),
    (HEADER + bytes.fromhex("45 C0"), "at byte 5 (0x05): EXT_0 is not used by EAS (MS-ASWBXML 2.1.3)"),
    (HEADER + bytes.fromhex("45 4B 03 0100 01 01"),
     "at byte 6 (0x06): string holds a character XML 1.0 cannot carry (a control character or U+FFFE/U+FFFF)"),
    (HEADER + bytes.fromhex("03 6100"), "at byte 4 (0x04): text outside the root element"),
    (HEADER + bytes.fromhex("4B C3 01 00 03 6100 01"), "at byte 8 (0x08): text after OPAQUE in <SyncKey>"),
    (bytes.fromhex("0201 04 00 05"), "at byte 2 (0x02): expected charset 106 (UTF-8), got MIBenum 4"),
    (bytes.fromhex("00"), "at byte 0 (0x00): expected WBXML version 0x03 (1.3), got 0x00"),
    (b"", "at byte 0 (0x00): truncated input: expected the WBXML version byte"),
])
def test_decode_errors_name_offset_and_expectation(body, message):
    with pytest.raises(WbxmlError) as info:
        decode(body)

    assert str(info.value) == message
    assert info.value.offset == int(message.split()[2])


def test_nesting_deeper_than_the_limit_is_refused():
    body = HEADER + bytes.fromhex("45") + bytes.fromhex("5C") * 100

    with pytest.raises(WbxmlError, match=r"at byte 104 .*nested deeper than 100"):
        decode(body)


def test_element_count_limit_stops_a_body_of_tiny_tags():
    body = HEADER + bytes.fromhex("45") + bytes.fromhex("1C") * 20 + bytes.fromhex("01")

    with pytest.raises(WbxmlError, match="more than 10 elements"):
        decode(body, max_elements=10)


def test_oversized_body_is_refused_before_parsing():
    with pytest.raises(WbxmlError, match="over the 8-byte limit"):
        decode(HEADER + bytes(10), max_size=8)


# ---------------------------------------------------------- encode errors


@pytest.mark.parametrize(("tree", "message"), [
    (lambda: etree.Element("{AirSync}Bogus"), "<Bogus> is not a tag of code page 0 (AirSync)"),
    (lambda: etree.Element("Sync"), "<Sync> has no namespace"),
    (lambda: etree.Element("{AirSync:}Sync"), "<Sync> is in namespace 'AirSync:', which is no EAS code page"),
    (lambda: etree.Element("{AirSync}Sync", Foo="1"), "<Sync> has attribute 'Foo'; EAS WBXML has no attributes"),
])
def test_encode_names_the_tag_it_cannot_encode(tree, message):
    with pytest.raises(WbxmlError) as info:
        encode(tree())

    assert message in str(info.value)
    assert info.value.offset is None


def test_comments_have_no_wbxml_form():
    root = element("AirSync:Sync")
    root.append(etree.Comment("note"))

    with pytest.raises(WbxmlError, match="comments and processing instructions have no WBXML form"):
        encode(root)


def test_entity_references_have_no_wbxml_form():
    parser = etree.XMLParser(resolve_entities=False)
    root = etree.fromstring('<!DOCTYPE Sync [<!ENTITY e "v">]><Sync xmlns="AirSync">&e;</Sync>', parser)

    with pytest.raises(WbxmlError, match="entity references have no WBXML form"):
        encode(root)


def test_element_builder_names_unknown_tags():
    with pytest.raises(WbxmlError, match=r"<Synk> is not a tag of code page 0 \(AirSync\)"):
        element("AirSync:Synk")


def test_element_builder_takes_prefixes_and_clark_names():
    assert element("airsyncbase:Body").tag == element("{AirSyncBase}Body").tag == "{AirSyncBase}Body"
    assert element("rm:TemplateID").tag == "{RightsManagement}TemplateID"


# ------------------------------------------------------------ the tables


def test_code_pages_cover_0_to_25_with_the_spec_namespaces():
    assert [page.number for page in CODE_PAGES] == list(range(26))
    assert NAMESPACES["airsync"] == "AirSync" and NAMESPACES["gal"] == "Gal"
    assert CODE_PAGES[3].tags == ()  # AirNotify: no longer in use (MS-ASWBXML 2.1.2.1.4)


def test_every_tag_encodes_to_its_own_token_on_its_own_page():
    for page in CODE_PAGES:
        assert len({tag.token for tag in page.tags}) == len(page.tags)
        for tag in page.tags:
            assert 0x05 <= tag.token <= 0x3F
            body = encode(etree.Element(tag.clark))
            switch = b"" if page.number == 0 else bytes((0x00, page.number))
            assert body == HEADER + switch + bytes((tag.token,))
            assert decode(body).tag == tag.clark


def test_tables_keep_the_protocol_versions_the_spec_lists():
    assert TAG_BY_CLARK["{AirSync}Truncation"].versions == ("2.5",)
    assert TAG_BY_CLARK["{Find}Find"].versions == ("16.1",)
    assert TAG_BY_CLARK["{Email}Location"].versions == ("2.5", "12.0", "12.1", "14.0", "14.1")


# -------------------------------------------------------- property tests

_TAGS = sorted(TAG_BY_CLARK.values(), key=lambda tag: tag.clark)
_XML_TEXT = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"),
                  include_characters="\t\n\r", exclude_characters="\ufffe\uffff"),
    min_size=1, max_size=20,
)


@st.composite
def _documents(draw, depth: int = 0) -> etree._Element:
    tag = draw(st.sampled_from(_TAGS))
    el = etree.Element(tag.clark)
    kinds = ["empty", "opaque"] if tag.byte_array else ["empty", "text", "opaque", "children"]
    kind = draw(st.sampled_from(kinds if depth < 4 else kinds[:3]))
    if kind == "text":
        el.text = draw(_XML_TEXT)
    elif kind == "opaque":
        el = element(tag.clark, draw(st.binary(max_size=40)))
    elif kind == "children":
        el.text = draw(st.none() | _XML_TEXT)
        for child in draw(st.lists(_documents(depth + 1), min_size=1, max_size=4)):
            child.tail = draw(st.none() | _XML_TEXT)
            el.append(child)
    return el


@settings(max_examples=150, deadline=None)
@given(_documents())
def test_generated_documents_round_trip(doc):
    body = encode(doc)

    assert shape(decode(body)) == shape(doc)
    assert encode(decode(body)) == body


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_random_bytes_raise_only_wbxml_errors(data):
    for body in (data, HEADER + data):
        try:
            encode(decode(body))
        except WbxmlError:
            pass
