"""The Contacts class (MS-ASCNTC): contacts and their Contacts2 extras."""
from __future__ import annotations

import re

from plugins.activesync.items.fields import DATE, LIST, ClassSpec, Field
from plugins.activesync.personas import V14_0


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


_TEXT = (
    "AssistantName", "AssistantPhoneNumber", "Business2PhoneNumber", "BusinessAddressCity",
    "BusinessAddressCountry", "BusinessAddressPostalCode", "BusinessAddressState", "BusinessAddressStreet",
    "BusinessFaxNumber", "BusinessPhoneNumber", "CarPhoneNumber", "CompanyName", "Department",
    "Email1Address", "Email2Address", "Email3Address", "FileAs", "FirstName", "Home2PhoneNumber",
    "HomeAddressCity", "HomeAddressCountry", "HomeAddressPostalCode", "HomeAddressState", "HomeAddressStreet",
    "HomeFaxNumber", "HomePhoneNumber", "JobTitle", "LastName", "MiddleName", "MobilePhoneNumber",
    "OfficeLocation", "OtherAddressCity", "OtherAddressCountry", "OtherAddressPostalCode", "OtherAddressState",
    "OtherAddressStreet", "PagerNumber", "RadioPhoneNumber", "Spouse", "Suffix", "Title", "WebPage",
    "YomiCompanyName", "YomiFirstName", "YomiLastName", "Picture",
)
_CONTACTS2 = ("CustomerId", "GovernmentId", "IMAddress", "IMAddress2", "IMAddress3", "ManagerName",
              "CompanyMainPhone", "AccountName", "NickName", "MMS")

SPEC = ClassSpec(
    name="Contacts",
    message_class="IPM.Contact",
    page="Contacts",
    subject_key="",
    fields=(
        Field("Contacts:Anniversary", "anniversary", DATE),
        Field("Contacts:Birthday", "birthday", DATE),
        *(Field(f"Contacts:{name}", _snake(name)) for name in _TEXT),
        Field("Contacts:Categories", "categories", LIST, child="Contacts:Category"),
        Field("Contacts:Children", "children", LIST, child="Contacts:Child"),
        *(Field(f"Contacts2:{name}", _snake(name)) for name in _CONTACTS2),
        Field("Contacts:Alias", "alias", since=V14_0),
    ),
)


def display_subject(properties: dict) -> str:
    """What lists show for a contact: FileAs, else the name."""
    name = " ".join(p for p in (properties.get("first_name"), properties.get("last_name")) if p)
    return str(properties.get("file_as") or name or properties.get("email1_address") or "")
