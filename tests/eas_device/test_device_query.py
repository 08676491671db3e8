"""The request line a device sends: plain and base64 query values (MS-ASHTTP 2.2.1.1.1)."""
from __future__ import annotations

import base64

import pytest

from device.auth import BasicAuth
from device.query import base64_query, plain_query
from eas_fakes import parse_base64_query


def test_base64_query_matches_the_spec_example_byte_for_byte() -> None:
    # MS-ASHTTP 2.2.1.1.1.1: version 14.0, Sync, en-us, device v140Device, no policy key, SmartPhone.
    assert base64_query("14.0", "Sync", "v140Device", "SmartPhone") == "jAAJBAp2MTQwRGV2aWNlAApTbWFydFBob25l"


def test_base64_query_packs_policy_key_and_parameters_in_field_order() -> None:
    raw = base64.b64decode(base64_query("12.1", "ItemOperations", "ABC", "PPC", locale=0x0407,
                                        policy_key=3942919513, parameters={"Options": b"\x02", "User": "alice"}))
    assert raw == (bytes([121, 19]) + b"\x07\x04" + b"\x03ABC" + b"\x04" + (3942919513).to_bytes(4, "little")
                   + b"\x03PPC" + b"\x07\x01\x02" + b"\x08\x05alice")


def test_base64_query_is_refused_for_versions_that_must_use_plain_text() -> None:
    for version in ("2.5", "12.0"):
        with pytest.raises(ValueError, match="MUST use the plain text query"):
            base64_query(version, "Sync", "ABC", "PPC")


def test_plain_query_follows_the_abnf_order_and_escapes_the_domain_separator() -> None:
    query = plain_query("SendMail", "CONTOSO\\alice", "v140Device", "SmartPhone", {"SaveInSent": "T"})
    assert query == "Cmd=SendMail&User=CONTOSO%5Calice&DeviceId=v140Device&DeviceType=SmartPhone&SaveInSent=T"


def test_basic_header_matches_the_spec_example() -> None:
    # MS-ASHTTP 2.2.1.1.2.2
    assert BasicAuth("fakeuser", "x$pIAK9@p9!").header() == "Basic ZmFrZXVzZXI6eCRwSUFLOUBwOSE="


def test_the_fake_server_reads_the_spec_example_the_same_way() -> None:
    """Guards the test double itself: its independent parser agrees with the spec text."""
    assert parse_base64_query("jAAJBAp2MTQwRGV2aWNlAApTbWFydFBob25l") == {
        "version": 140, "command": "Sync", "locale": 0x0409, "device_id": "v140Device",
        "policy_key": None, "device_type": "SmartPhone", "params": {}}
