"""The codec against real EAS traffic recorded between other implementations
(shared/fixtures/eas-traffic, NNNN-<Command>-req|resp.wbxml)."""

from __future__ import annotations

import copy
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from plugins.activesync.wbxml import WbxmlError, decode, encode, opaque_bytes

FIXTURE_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "eas-traffic"
FIXTURES = sorted(FIXTURE_DIR.glob("*.wbxml"))
HEADER = bytes.fromhex("03016a00")

# A body that is the WBXML header alone: the recording server answered
# ResolveRecipients with a header and no element.
HEADER_ONLY = [path for path in FIXTURES if path.read_bytes() == HEADER]
DOCUMENTS = [path for path in FIXTURES if path not in HEADER_ONLY]


def command_of(path: Path) -> str:
    return path.stem.split("-")[1]


def test_fixture_directory_holds_the_recorded_traffic():
    assert len(DOCUMENTS) >= 50, f"expected the recorded EAS traffic in {FIXTURE_DIR}"


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_fixture_decodes_to_its_command_and_reencodes_byte_for_byte(path):
    body = path.read_bytes()

    root = decode(body)

    assert etree.QName(root).localname == command_of(path)
    assert encode(root) == body


@pytest.mark.parametrize("path", HEADER_ONLY, ids=lambda p: p.name)
def test_header_only_fixture_is_refused_as_missing_root(path):
    """WBXML 1.3 section 5.3 defines ``body = *pi element *pi``: a body needs
    exactly one root element. This recorded response is the 4-byte header
    with nothing after it, so it has no XML form to decode to and nothing
    to re-encode; the decoder names the problem and the offset instead."""
    with pytest.raises(WbxmlError, match=r"^at byte 4 \(0x04\): missing root element"):
        decode(path.read_bytes())


def test_opaque_mime_in_sendmail_survives_the_round_trip():
    path = next(p for p in DOCUMENTS if command_of(p) == "SendMail")

    mime = decode(path.read_bytes()).find("{ComposeMail}Mime")

    assert mime is not None
    assert opaque_bytes(mime).startswith(b"From: ")


_SMALL = [path.read_bytes() for path in DOCUMENTS if path.stat().st_size < 4096]


@st.composite
def _mutated_fixtures(draw) -> bytes:
    body = bytearray(draw(st.sampled_from(_SMALL)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(body)))
        action = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if action == "flip" and at < len(body):
            body[at] = draw(st.integers(0, 255))
        elif action == "insert":
            body[at:at] = draw(st.binary(min_size=1, max_size=4))
        elif action == "delete":
            del body[at:at + draw(st.integers(1, 4))]
        else:
            del body[at:]
    return bytes(body)


@settings(max_examples=300, deadline=None)
@given(_mutated_fixtures())
def test_mutated_fixtures_raise_only_wbxml_errors(body):
    try:
        root = decode(body)
    except WbxmlError:
        return
    try:
        reencoded = encode(root)
    except WbxmlError:
        return
    assert etree.tostring(decode(reencoded)) == etree.tostring(root)


def test_a_one_megabyte_sync_response_codes_well_under_a_second():
    root = decode(next(p for p in DOCUMENTS if p.name == "0018-Sync-resp.wbxml").read_bytes())
    commands = root.find(".//{AirSync}Commands")
    adds = list(commands)
    while len(encode(root)) < 1_000_000:
        commands.extend(copy.deepcopy(add) for add in adds)
    body = encode(root)

    started = time.perf_counter()
    decoded = decode(body)
    decoded_at = time.perf_counter()
    reencoded = encode(decoded)
    encoded_at = time.perf_counter()

    assert reencoded == body
    assert decoded_at - started < 1.0
    assert encoded_at - decoded_at < 1.0
